#!/usr/bin/env bash
# GPT Image 2 image-to-image from the shell (bash + curl + jq), as in the API docs:
#   PHAYA_BASE=... PHAYA_API_KEY=... ./gpt_image.sh "make it night" https://example.com/in.png [out.png]
set -euo pipefail
prompt=$1 input=$2 out=${3:-gpt-image-2.png}
auth=(-H "Authorization: Bearer ${PHAYA_API_KEY}" -H "Content-Type: application/json")
body=$(jq -n --arg p "$prompt" --arg u "$input" '{prompt: $p, input_urls: [$u], aspect_ratio: "16:9", resolution: "2K"}')
job=$(curl -sfS "${auth[@]}" -d "$body" "${PHAYA_BASE}/gpt-image-2-image-to-image/create" | jq -r .job_id)
echo "job $job" >&2
for _ in $(seq 1 "${PHAYA_POLLS:-120}"); do
  status_json=$(curl -sfS "${auth[@]}" "${PHAYA_BASE}/gpt-image-2-image-to-image/status/${job}")
  status=$(jq -r .status <<<"$status_json")
  case "$status" in
    completed)
      url=$(jq -r .image_url <<<"$status_json")
      ms=$(jq -r .processing_time_ms <<<"$status_json")
      curl -sfS -o "$out" "$url"
      echo "image_url=$url"
      echo "processing_time_ms=$ms"
      echo "saved=$out"
      exit 0;;
    failed) echo "failed: $(jq -r .error <<<"$status_json")" >&2; exit 1;;
  esac
  sleep "${PHAYA_POLL_SECONDS:-5}"
done
echo "timed out" >&2; exit 1
