#!/bin/bash
# Gome's start script for MLE-bench (agents/gome): optimizes a solution to the competition in
# /home/data for TIME_LIMIT_SECS and at most STEP_LIMIT steps per trace. The best submission is
# kept at $SUBMISSION_DIR/submission.csv from the first valid step on (a harness that stops the
# container early still finds it), its code goes to $CODE_DIR, Gome's logs and report to
# $LOGS_DIR. Arguments are passed on to `gome-mcp run` (config.yaml's kwargs).
#
# Environment (MLE-bench sets the first ones): COMPETITION_ID, TIME_LIMIT_SECS, STEP_LIMIT,
# SUBMISSION_DIR, LOGS_DIR, CODE_DIR, AGENT_DIR; the model: GOME_MODEL, OPENAI_API_KEY and
# optionally OPENAI_BASE_URL. For tests and other harnesses: DATA_DIR (default /home/data),
# VALIDATION_URL (default http://localhost:5000/validate), GOME_BIN (default
# $AGENT_DIR/gome-mcp), GOME_PYTHON (default: the python of the conda environment "agent").
set -u
set -x # print commands as they are executed, as MLE-bench's agents do

: "${COMPETITION_ID:?COMPETITION_ID is not set: MLE-bench sets it to the competition id}"
: "${SUBMISSION_DIR:=/home/submission}" "${LOGS_DIR:=/home/logs}" "${CODE_DIR:=/home/code}" "${AGENT_DIR:=/home/agent}"
: "${DATA_DIR:=/home/data}" "${TIME_LIMIT_SECS:=86400}" "${STEP_LIMIT:=500}"
: "${VALIDATION_URL:=http://localhost:5000/validate}" "${GOME_BIN:=${AGENT_DIR}/gome-mcp}"
mkdir -p "${SUBMISSION_DIR}" "${LOGS_DIR}" "${CODE_DIR}"

if [ -z "${GOME_PYTHON:-}" ] && command -v conda >/dev/null 2>&1; then
  eval "$(conda shell.bash hook)" # make conda available to the shell
  conda activate agent
  GOME_PYTHON=$(command -v python)
fi
export GOME_PYTHON

# Leave a margin of the time limit (5%, at most 10 minutes) for writing the report and the code;
# `timeout` is the backstop. Gome allows at most 1000 steps per trace.
margin=$(( TIME_LIMIT_SECS / 20 ))
[ "${margin}" -gt 600 ] && margin=600
budget=$(( TIME_LIMIT_SECS - margin ))
[ "${budget}" -lt 1 ] && budget=1
steps=${STEP_LIMIT}
[ "${steps}" -gt 1000 ] && steps=1000

timeout "${TIME_LIMIT_SECS}" "${GOME_BIN}" run "${DATA_DIR}" --mlebench-id "${COMPETITION_ID}" \
  --home "${AGENT_DIR}/gome-home" --sandbox local \
  --budget "${budget}s" --steps "${steps}" \
  --submission-out "${SUBMISSION_DIR}/submission.csv" \
  --json "$@" >"${LOGS_DIR}/report.json" 2> >(tee "${LOGS_DIR}/gome.log" >&2)
status=$?
if [ "${status}" -eq 124 ]; then
  echo "Timed out after ${TIME_LIMIT_SECS} seconds; the best submission so far is kept"
fi

# The code of the submitted solution: the step whose submission is the one kept.
if [ -f "${SUBMISSION_DIR}/submission.csv" ]; then
  for sub in "${AGENT_DIR}"/gome-home/runs/*/trace-*/step-*/submission.csv "${AGENT_DIR}"/gome-home/runs/*/submission.csv; do
    [ -f "${sub}" ] || continue
    if cmp -s "${sub}" "${SUBMISSION_DIR}/submission.csv" && [ -f "$(dirname "${sub}")/main.py" ]; then
      cp "$(dirname "${sub}")/main.py" "${CODE_DIR}/main.py"
    fi
  done
  # Check the submission's format with the validation server (it gives no score).
  if command -v curl >/dev/null 2>&1; then
    curl -s -X POST -F "file=@${SUBMISSION_DIR}/submission.csv" "${VALIDATION_URL}" >"${LOGS_DIR}/validation.json" ||
      echo "the validation server at ${VALIDATION_URL} did not answer"
  fi
else
  echo "no valid submission was found"
fi
exit "${status}"
