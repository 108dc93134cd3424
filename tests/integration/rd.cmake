# Retained Data (issue 20): obligations, RD placement and compliance, keys per
# retention period and their destruction, sealed RD records (docs/rd.md).
lisec_integration_test(rd_api tests/integration/rd_api.sh)
# Twins: an RD store and VM and ones no obligation names read alike to the
# host and to every other role; counters outlive obligations; a key of a
# store no longer named blocks its obligation's deletion (rd_twin).
lisec_integration_test(rd_twin tests/integration/rd_twin.sh)
# The seal bit and clear text of decisions about an RD VM and its twin, the
# k8s filter's record, and a refused removal of an obligation's jurisdiction
# (rd_twin_records).
lisec_integration_test(rd_twin_records tests/integration/rd_twin_records.sh)
# The bound on an RD store's live data keys, [rd] max_live_keys: obligations,
# replacements and extensions past it refused, keys at it rotated, a new
# period's key refused past a lowered bound, bad values refused at start
# (rd_keys).
lisec_integration_test(rd_keys tests/integration/rd_keys.sh)
# A retention period's key neither given nor destroyed while the
# controller's clock is unproven (a real NTS chronyd stopped), destroyed
# once it is proven again (rd_time).
lisec_integration_test(rd_time tests/integration/rd_time.sh)
# An RD VM and its twin onto an untrusted host, and one without a
# location: migrations, placements and the k8s filter read alike to every
# role but rd-admin (MOVE2 alone), records in the clear alike; RD-R11 for
# the jurisdiction still shown (rd_confid_untrusted).
lisec_integration_test(rd_confid_untrusted tests/integration/rd_confid_untrusted.sh)
# Who a data key is wrapped to: only the key the RD administration
# registered for the VM by its signed command (lisec rd sign-recipient);
# forged, replayed, expired registrations and other roles refused, another
# key and an unregistered VM refused alike, sealed records (rd_recipient).
lisec_integration_test(rd_recipient tests/integration/rd_recipient.sh)
