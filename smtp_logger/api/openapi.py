"""`python -m smtp_logger.api.openapi [FILE]`: write the OpenAPI document the server serves at
/v1/openapi.json (default docs/openapi.json; `make openapi`). A test holds the two equal."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from smtp_logger.api.app import create_app
from smtp_logger.base.config import Settings

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def document() -> dict:
    with tempfile.TemporaryDirectory() as data_dir:
        return create_app(Settings(database_url="sqlite://", data_dir=data_dir)).openapi()


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DOCUMENT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
