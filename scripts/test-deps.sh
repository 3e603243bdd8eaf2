#!/usr/bin/env bash
# Installs what the test suite needs outside Python: redis-server, Chromium + chromedriver, wrk, a
# CJK font, node + npm and bubblewrap (the repair sandbox, whose tests must not skip in CI) from
# Debian, and the Elasticsearch test distribution from Maven Central (cached in ~/.m2).
set -euo pipefail
ES_VERSION=${1:-9.2.0}

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v wrk >/dev/null || missing+=(wrk)
command -v bwrap >/dev/null || missing+=(bubblewrap)
# node + npm run the TypeScript client of docs/clients (its tools come from npm, cached).
command -v npm >/dev/null || missing+=(nodejs npm)
# A CJK font, so the dashboard's Chinese text renders in browser screenshots.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-deps: please install: ${missing[*]} (apt-get install needs root)" >&2
    exit 1
  fi
  echo "test-deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

zip=~/.m2/repository/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION/elasticsearch-$ES_VERSION.zip
if [ ! -f "$zip" ]; then
  echo "test-deps: fetching Elasticsearch $ES_VERSION test distribution from Maven Central"
  mvn -q dependency:get -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip"
fi
echo "test-deps: ready (redis-server, chromium, bubblewrap, node, Elasticsearch $ES_VERSION)"
