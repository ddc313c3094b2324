#!/usr/bin/env bash
# Walk the administrator's path as README.md tells it, in a fresh clone: the two commands at the
# top (the demo, then the whole test command), then the Windows section, literally where Linux can
# follow it (build the bundle, config init --wid with README's own Windows path, config check).
# The Windows-only steps (py -3.12 -m venv, pip from the win_amd64 bundle) are replaced by the
# same steps with a bundle for this platform. Usage: tools/walk_readme.sh [REPOSITORY] [WORKDIR]
set -euo pipefail
repository=$(realpath "${1:-$(dirname "$0")/..}")
work=${2:-$(mktemp -d)}
clone="$work/clone"
export XDG_STATE_HOME="$work/state"          # the demo's default state directory, fresh
step() { printf '\n== %s\n' "$*"; }

step "fresh clone of $repository"
git clone --quiet "$repository" "$clone"
cd "$clone"

step "README, first command: the demo"
python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/susdb-maint demo > "$work/demo.txt"
tail -14 "$work/demo.txt"

step "README, second command: lint, types and the whole suite"
command=$(python3 - <<'PY'
import re, pathlib
text = pathlib.Path("README.md").read_text(encoding="utf-8")
print(re.search(r"<!-- test-command -->\s*```[a-z]*\n(.+?)\n```", text, re.S).group(1).strip())
PY
)
failed=0
bash -c "$command" > "$work/tests.txt" 2>&1 || { failed=1; echo "(the test command failed: see below)"; }
tail -3 "$work/tests.txt"

step "README, Windows section: build the bundle (literally)"
python3 -m venv .venv && .venv/bin/pip install uv && .venv/bin/python tools/build_bundle.py > "$work/bundle-windows.txt"
head -3 "$work/bundle-windows.txt" && ls dist/*.zip

step "the same install, for this platform, with pip's network off"
.venv/bin/python tools/build_bundle.py --platform current --output "$work/bundle" --no-zip > "$work/bundle-current.txt"
head -1 "$work/bundle-current.txt"
python3 -m venv "$work/installed"
PIP_CONFIG_FILE=/dev/null "$work/installed/bin/python" -m pip install -q --no-index \
  --find-links "$work/bundle" "susdb-maint[sqlserver,windows]"

step "README, Windows section: config init --wid and config check (literally)"
mkdir -p "$work/host" && cd "$work/host"
"$work/installed/bin/susdb-maint" config init --wid --output 'C:\ProgramData\susdb-maint\susdb-maint.toml'
"$work/installed/bin/susdb-maint" config check 'C:\ProgramData\susdb-maint\susdb-maint.toml'
if [ "$failed" = 0 ]; then step "done: every step worked ($work)"; else step "done, but the test command failed ($work)"; fi
exit "$failed"
