"""Which email a delivery asks to log (candidate.py), the rules as a pure function of that
candidate and what the CRM knows (rules.py, the CHECKS table), and the reason codes with their
sentences (reasons.py). No I/O; imports understand/ and base/ only."""
