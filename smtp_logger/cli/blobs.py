"""`smtp-logger blobs`: the blob store's back-ends (store.blobstore). `migrate --to` moves every
blob of this host's other back-end into the named one: each is copied, read back and hashed,
and only then deleted at the source, so a run cut short loses nothing and a second run picks
up where it stopped. Reads fall back to the other back-end meanwhile (no downtime). `check`
lists references without a blob and blobs without a reference.
"""

from __future__ import annotations

import click

from smtp_logger.cli.base import Context, emit, main, pass_ctx
from smtp_logger.store.blobstore import backend_name, backends
from smtp_logger.store.blobstore.base import hash_stream
from smtp_logger.store.blobstore.refs import all_references


@main.group()
def blobs():
    """Held raw mail and attachment files: move them between back-ends, check references."""


def _move(source, target, key: str) -> bool:
    """Copy one blob, verify the copy's hash, then delete the source. False if the source
    does not hash to its key (left where it is)."""
    with source.open(key) as stream:
        try:
            target.put(stream, key)
        except ValueError:
            return False
    with target.open(key) as stream:
        if hash_stream(stream)[0] != key:
            target.delete(key)
            return False
    source.delete(key)
    return True


@blobs.command("migrate")
@click.option("--to", "to", type=click.Choice(["database", "local"]), required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def blobs_migrate(obj: Context, to, as_json):
    """Move every blob into the `database` or `local` back-end (re-run safe). Set blob_store to
    the same back-end (and restart the receivers) so that new blobs go there too."""
    both = backends(obj.settings, obj.prepare())
    source, target = both["local" if to == "database" else "database"], both[to]
    moved, damaged = 0, []
    for key in list(source.keys()):
        if _move(source, target, key):
            moved += 1
        else:
            damaged.append(key)
    result = {"to": to, "moved": moved, "damaged": damaged, "blob_store": backend_name(obj.settings)}
    text = f"{moved} blob(s) moved to {to}" + (f"; {len(damaged)} damaged left at the source" if damaged else "")
    if backend_name(obj.settings) != to:
        text += f"\nblob_store is still {backend_name(obj.settings)}: set it to {to} and restart the receivers"
    emit(result, as_json, text)
    if damaged:
        raise SystemExit(1)


@blobs.command("check")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def blobs_check(obj: Context, as_json):
    """References without a blob (exit 1: something is lost) and blobs without a reference
    (harmless: `held purge` removes them once older than blob_grace_seconds)."""
    both = backends(obj.settings, obj.prepare())
    kept = {name: set(store.keys()) for name, store in both.items()}
    with obj.session() as session:
        references = all_references(session)
    referenced = {r["sha256"] for r in references}
    missing = [r for r in references if not any(r["sha256"] in keys for keys in kept.values())]
    unreferenced = [{"sha256": key, "backend": name} for name, keys in kept.items()
                    for key in sorted(keys - referenced)]
    result = {"blob_store": backend_name(obj.settings), "references": len(references),
              "blobs": {name: len(keys) for name, keys in kept.items()},
              "references_without_blob": missing, "blobs_without_reference": unreferenced}
    lines = [f"{len(references)} reference(s); blobs: " + ", ".join(f"{n} {k}" for k, n in result["blobs"].items())]
    lines += [f"MISSING {r['kind']} {r['id']}: {r['sha256']}" for r in missing]
    lines += [f"unreferenced ({u['backend']}): {u['sha256']}" for u in unreferenced]
    emit(result, as_json, "\n".join(lines))
    if missing:
        raise SystemExit(1)
