"""Write .env from .env.example with a fresh random SECRET_KEY, unless .env already exists.

Run at bake time by the template's post-generation hook, and by `make` on a fresh clone (.env is git-ignored).
An existing .env is never touched: it holds the secret a developer already uses. DEBUG stays as .env.example has
it (off): `make run` turns it on for the development server only, so a .env written by `make` on a server can
never switch a production process into debug mode.
"""

import re
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL_VALUES = {"SECRET_KEY": lambda: secrets.token_urlsafe(50)}


def render(example):
    lines = []
    for line in example.splitlines():
        name = re.match(r"^([A-Z_]+)=", line)
        if name and name.group(1) in LOCAL_VALUES:
            line = f"{name.group(1)}={LOCAL_VALUES[name.group(1)]()}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def main():
    target = ROOT / ".env"
    if target.exists():
        print(f"{target.name} exists; left as it is.")
        return
    target.write_text(render((ROOT / ".env.example").read_text(encoding="utf-8")), encoding="utf-8")
    target.chmod(0o600)
    print(f"Wrote {target.name} with a fresh SECRET_KEY.")


if __name__ == "__main__":
    main()
