#!/usr/bin/env bash
# LocalStack init hook (runs from /etc/localstack/init/ready.d when LocalStack
# is ready, with `awslocal` on PATH): creates what template.yaml creates for
# narwhal apart from the broker and the functions. Idempotent: what exists is
# left as it is, secret values included. The names can be changed through the
# environment; localstack/env.json uses the defaults.
#
#   NARWHAL_TABLE          the job table           (default narwhal-jobs)
#   NARWHAL_LOG_BUCKET     the log bucket          (default narwhal-logs)
#   NARWHAL_SECRET_PREFIX  prefix of secret names  (default narwhal/)
#
# The table's key schema, indexes and TTL attribute must stay equal to the
# JobTable of template.yaml; localstack/hook_test.go checks that they do.
set -euo pipefail

table=${NARWHAL_TABLE:-narwhal-jobs}
bucket=${NARWHAL_LOG_BUCKET:-narwhal-logs}
prefix=${NARWHAL_SECRET_PREFIX:-narwhal/}

log() { echo "narwhal init: $*"; }

# gsi NAME PARTITION_ATTRIBUTE [SORT_ATTRIBUTE]: one index, sorted by created_id unless told.
gsi() {
  printf '{"IndexName":"%s","KeySchema":[{"AttributeName":"%s","KeyType":"HASH"},{"AttributeName":"%s","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}}' "$1" "$2" "${3:-created_id}"
}

create_table() {
  local attrs=() a
  for a in pk sk repo created_id sha status kind repo_status unpublished; do
    attrs+=("AttributeName=$a,AttributeType=S")
  done
  awslocal dynamodb create-table --table-name "$table" --billing-mode PAY_PER_REQUEST \
    --attribute-definitions "${attrs[@]}" \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
    --global-secondary-indexes "[$(gsi by-repo repo),$(gsi by-sha repo sha),$(gsi by-status status),$(gsi by-created kind),$(gsi by-repo-status repo_status),$(gsi unpublished unpublished)]" \
    >/dev/null
  awslocal dynamodb wait table-exists --table-name "$table"
  log "created table $table"
  enable_ttl
}

enable_ttl() {
  awslocal dynamodb update-time-to-live --table-name "$table" \
    --time-to-live-specification Enabled=true,AttributeName=ttl >/dev/null
  log "enabled TTL on $table.ttl"
}

# ensure_ttl enables TTL on an existing table that lacks it.
ensure_ttl() {
  case $(awslocal dynamodb describe-time-to-live --table-name "$table" \
    --query TimeToLiveDescription.TimeToLiveStatus --output text) in
    ENABLED | ENABLING) log "TTL on $table exists" ;;
    *) enable_ttl ;;
  esac
}

ensure_bucket() {
  if awslocal s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
    log "bucket $bucket exists"
  else
    awslocal s3api create-bucket --bucket "$bucket" >/dev/null
    log "created bucket $bucket"
  fi
}

# ensure_secret NAME VALUE DESCRIPTION: creates the secret unless it exists.
existing_secrets=""
ensure_secret() {
  local name=$prefix$1
  if grep -qxF -- "$name" <<<"$existing_secrets"; then
    log "secret $name exists"
    return
  fi
  awslocal secretsmanager create-secret --name "$name" --secret-string "$2" --description "$3" >/dev/null
  log "created secret $name"
}

if awslocal dynamodb describe-table --table-name "$table" >/dev/null 2>&1; then
  log "table $table exists"
  ensure_ttl
else
  create_table
fi
ensure_bucket

existing_secrets=$(awslocal secretsmanager list-secrets --filters "Key=name,Values=$prefix" \
  --query 'SecretList[].Name' --output text | tr '\t' '\n')
ensure_secret webhook-secret narwhal-test-secret \
  "GitHub webhook secret(s), one per line; events/*.json are signed with this one."
ensure_secret runner-token narwhal-local-runner-token-0123456789 \
  "Fleet key of the runners: runnerd's token is narwhal runner-cert --id ID --fleet-key-file (docs/rpc.md)."
ensure_secret github-token "placeholder: put a GitHub token with repo:status here" \
  "GitHub token for commit statuses and clones."
ensure_secret mq '{"username":"narwhal","password":"narwhal"}' \
  "RabbitMQ user of the broker, as the Amazon MQ event source reads it."
log "ready: table $table, bucket $bucket, secrets ${prefix}{webhook-secret,runner-token,github-token,mq}"
