# One fenced leader among three lisecd on one PostgreSQL (issue 17): a
# standby's answers, kill -9 failovers, a deposed leader's write refused by
# the fence, and the refusal of a second writer on SQLite or on PostgreSQL
# without [ha].
lisec_integration_test(ha_failover tests/integration/ha_failover.sh)
