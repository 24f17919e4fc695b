#!/usr/bin/env bash
# Mutation testing of the money path (not part of CI's test command; run by hand).
#
#   scripts/mutation.sh            # every money-path function (see FUNCS), then the score
#   scripts/mutation.sh results    # what survived last time (mutmut results / mutmut show NAME)
#
# Configuration: [tool.mutmut] in pyproject.toml (which modules, which tests). mutmut 3
# copies the package into ./mutants/ (git-ignored) and runs the selected tests once per
# mutant. The run is restricted to the functions that create jobs, reserve and settle
# credits and spend the request budget; messages and plumbing around them are left out.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
"$PY" -m pip show mutmut >/dev/null 2>&1 || "$PY" -m pip install -q -e '.[mutation]'
MUTMUT="$(dirname "$PY")/mutmut"

if [ "${1:-}" = "results" ]; then
  exec "$MUTMUT" results
fi

# mutmut 3 names a mutant module.xǁClassǁmethod__mutmut_N (module.x_function__mutmut_N).
FUNCS=(
  'phaya_notebook.core.create.x_create_job__mutmut_*'
  'phaya_notebook.core.create.x_can_prove_absent__mutmut_*'
  'phaya_notebook.core.create.x_reconcile__mutmut_*'
  'phaya_notebook.core.create.x_lookup__mutmut_*'
  'phaya_notebook.core.create.x_history_lookup__mutmut_*'
  'phaya_notebook.core.money.xǁLedgerǁreserve__mutmut_*'
  'phaya_notebook.core.money.xǁLedgerǁunreserve__mutmut_*'
  'phaya_notebook.core.money.xǁLedgerǁcancel__mutmut_*'
  'phaya_notebook.core.money.xǁLedgerǁsettle__mutmut_*'
  'phaya_notebook.core.money.xǁLedgerǁrelease__mutmut_*'
  'phaya_notebook.core.money.xǁLedgerǁsettle_charge__mutmut_*'
  'phaya_notebook.core.money.xǁLedgerǁcheck_batch__mutmut_*'
  'phaya_notebook.core.money.xǁLedgerǁend_call__mutmut_*'
  'phaya_notebook.core.client.xǁAsyncPhayaǁsubmit__mutmut_*'
  'phaya_notebook.core.budget.xǁRequestBudgetǁ_prune__mutmut_*'
  'phaya_notebook.core.budget.xǁRequestBudgetǁ_wait_time__mutmut_*'
  'phaya_notebook.core.budget.xǁRequestBudgetǁ_dispatch__mutmut_*'
  'phaya_notebook.core.budget.xǁRequestBudgetǁtry_acquire__mutmut_*'
  'phaya_notebook.core.budget.xǁRequestBudgetǁacquire__mutmut_*'
  'phaya_notebook.core.budget.xǁRequestBudgetǁpause__mutmut_*'
  'phaya_notebook.core.budget.xǁRequestBudgetǁsettle__mutmut_*'
  'phaya_notebook.core.http.xǁRequestLoopǁ_run__mutmut_*'
)
if [ $# -gt 0 ]; then FUNCS=("$@"); fi
start=$(date +%s)
"$MUTMUT" run --max-children "${MUTATION_JOBS:-2}" "${FUNCS[@]}" || true
echo "mutation run took $(( $(date +%s) - start )) s"
"$MUTMUT" results --all true 2>/dev/null | "$PY" scripts/mutation_score.py "${FUNCS[@]}"
