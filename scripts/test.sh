#!/usr/bin/env bash
# The whole test suite: installs missing packages, builds, runs every test project, and prints one
# totals line "N passed, N failed, N skipped". Fails if any test failed or was skipped for a reason
# other than a missing kernel feature (skip reasons must start with "kernel:"), or if nothing ran.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
results="$(pwd)/TestResults"
rm -rf "$results"
mkdir -p "$results"

echo "switchboard: building" >&2
dotnet build Switchboard.slnx -c Release -nologo -v quiet >&2

status=0
dotnet test Switchboard.slnx -c Release --no-build -nologo -v quiet \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" >&2 || status=$?

python3 - "$results" <<'PY'
import sys, glob, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
bad_skips = []
failures = []
files = glob.glob(sys.argv[1] + "/**/*.trx", recursive=True)
for f in files:
    root = ET.parse(f).getroot()
    for r in root.iterfind(".//t:UnitTestResult", ns):
        outcome = r.get("outcome")
        if outcome == "Passed":
            passed += 1
        elif outcome == "NotExecuted":
            skipped += 1
            msg = r.find(".//t:Message", ns)
            reason = (msg.text or "").strip() if msg is not None else ""
            if not reason.startswith("kernel:"):
                bad_skips.append(f"{r.get('testName')}: {reason or 'no reason'}")
        else:
            failed += 1
            msg = r.find(".//t:Message", ns)
            trace = r.find(".//t:StackTrace", ns)
            failures.append((r.get("testName"), (msg.text or "").strip() if msg is not None else "",
                             (trace.text or "").strip() if trace is not None else ""))
for name, message, trace in failures:
    print(f"switchboard: FAILED {name}", file=sys.stderr)
    for line in (message.splitlines()[:40] + trace.splitlines()[:8]):
        print(f"switchboard:   {line}", file=sys.stderr)
for s in bad_skips:
    print(f"switchboard: skipped for a reason other than a missing kernel feature: {s}", file=sys.stderr)
open(sys.argv[1] + "/totals", "w").write(f"{passed} {failed} {skipped} {len(bad_skips)} {len(files)}\n")
PY
read -r passed failed skipped badskips files < "$results/totals"
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$badskips" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
