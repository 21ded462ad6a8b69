#!/usr/bin/env bash
# README's test command: builds everything (warnings are errors), runs every test project, then re-runs the
# SIMD kernel reference tests with hardware intrinsics disabled and with AVX-512 disabled so every code path runs.
# Ends with one line "N passed, N failed" summed over all runs.
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
results="artifacts/test-results"
rm -rf "$results"; mkdir -p "$results"
status=0

if ! dotnet build StreamLstm.sln -c Release -nologo -v q; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# One project at a time, each with its own TRX file (parallel runs of a whole solution can lose a report).
for project in tests/*/*.Tests.csproj; do
  name=$(basename "$project" .csproj)
  dotnet test --project "$project" -c Release --no-build --report-xunit-trx --report-xunit-trx-filename "$name.trx" \
    --results-directory "$PWD/$results" --ignore-exit-code 8 || status=1
  [ -f "$results/$name.trx" ] || { echo "$name: no test report was written"; status=1; }
done

# Kernel paths: portable scalar (no intrinsics) and Vector256 (no AVX-512; .NET 10 needs DOTNET_EnableAVX512=0 besides the older AVX512F switch).
kernel_tests=tests/Model.Tests/bin/Release/net10.0/StreamLstm.Model.Tests.dll
kernel_filter=(-trait "Category=Kernel")
DOTNET_EnableHWIntrinsic=0 dotnet "$kernel_tests" "${kernel_filter[@]}" -noLogo -noColor -trx "$results/kernel-nohwintrinsic.trx" >"$results/kernel-nohw.log" 2>&1 || { status=1; cat "$results/kernel-nohw.log"; }
DOTNET_EnableAVX512F=0 DOTNET_EnableAVX512=0 dotnet "$kernel_tests" "${kernel_filter[@]}" -noLogo -noColor -trx "$results/kernel-noavx512.trx" >"$results/kernel-noavx512.log" 2>&1 || { status=1; cat "$results/kernel-noavx512.log"; }
tail -n 3 "$results/kernel-nohw.log" "$results/kernel-noavx512.log"; echo

python3 - "$results" <<'PY' || status=1
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for f in sorted(glob.glob(sys.argv[1] + "/**/*.trx", recursive=True)):
    c = ET.parse(f).getroot().find(".//{*}Counters")
    if c is None: continue
    passed += int(c.get("passed", 0)); failed += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0)) + int(c.get("aborted", 0))
    skipped += int(c.get("notExecuted", 0))
if passed == 0 and failed == 0: failed = 1  # a run that executed nothing is a failure
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
PY
exit $status
