# An LI authorisation for scripts that only need one to exist (sourced after
# common.sh; callers set pki and start lisecd first): a target is refused
# unless its authorisation is in the trust model (TR103308-5.2), so a vault
# test creates the smallest model that holds one. Nothing in it is trusted;
# it exists, which is all a target asks.

# li_fixture LI...: PUTs (idempotent) a jurisdiction, an LEA, a host, a
# hypervisor, a monitored VM, an LI VM and its storage as the operator, then
# each LI authorisation LI as the LI administration.
li_fixture() {
  local put
  put() { # ROLE KIND ID JSON
    local code
    code=$(as "$1" -o "$work/li_fixture.reply" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
      -d "$4" "$LISECD_URL/v1/model/$2/$3") || fail "li_fixture: PUT $2 $3: no answer"
    [ "$code" = 200 ] || [ "$code" = 201 ] || fail "li_fixture: PUT $2 $3: $code $(cat "$work/li_fixture.reply")"
  }
  put operator jurisdiction fx-jur '{"id":"fx-jur","codes":["FI"]}'
  put operator lea fx-lea '{"id":"fx-lea","jurisdiction":"fx-jur"}'
  put operator host fx-host '{"id":"fx-host","protection":"li"}'
  put operator hypervisor fx-hv '{"id":"fx-hv","host":"fx-host"}'
  put operator vm fx-mon '{"id":"fx-mon","hypervisor":"fx-hv","sensitivity":"general","domain":"fx-core"}'
  put operator vm fx-livm '{"id":"fx-livm","hypervisor":"fx-hv","sensitivity":"li","domain":"fx-li"}'
  put operator storage fx-st '{"id":"fx-st","vm":"fx-livm"}'
  local li
  for li in "$@"; do
    put li-admin li "$li" "{\"id\":\"$li\",\"jurisdiction\":\"fx-jur\",\"lea\":\"fx-lea\",\"monitored\":\"fx-mon\",\"host\":\"fx-livm\",\"storage\":\"fx-st\",\"valid_from\":\"2025-01-01T00:00:00Z\",\"valid_until\":\"2035-01-01T00:00:00Z\"}"
  done
}
