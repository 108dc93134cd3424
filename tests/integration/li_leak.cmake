# LI confidentiality (TR 103 308 §4.1): what no role but li-admin may tell
# apart. Replies, errors and metrics about LI objects (li_leak); a
# decision's attestation object and a hypervisor move about a monitored VM
# and its twin, hosts attested by swtpm and lisec-agent (li_confid_attest);
# how many LI authorisations exist, in lisecd's start log, status, metrics
# and compliance with one LI and with two (li_confid_log); the seal bit of
# model changes' and observations' records about a VM or storage an LI
# names and their twins', as the operator reads the log (li_confid_records);
# the records and quarantine command of a host that loses its trust or is
# de-enrolled, running a monitored VM or its twin (li_confid_trust); the
# decisions about a monitored VM and its twin onto a destination whose agent
# is silent or whose evidence fails, and their records (li_confid_silent);
# the refusals of a hypervisor running one VM an LI (an obligation) involves
# and of one running three, and of migrating a VM two LIs (obligations)
# involve and one one does, and their records (li_confid_counts); the
# compliance rows, decisions, moves and clear records naming a VM declared
# "li", to the roles that may not read LI VMs (li_confid_vmrows).
lisec_integration_test(li_leak tests/integration/li_leak.sh)
lisec_integration_test(li_confid_attest tests/integration/li_confid_attest.sh)
lisec_integration_test(li_confid_log tests/integration/li_confid_log.sh)
lisec_integration_test(li_confid_records tests/integration/li_confid_records.sh)
lisec_integration_test(li_confid_trust tests/integration/li_confid_trust.sh)
lisec_integration_test(li_confid_silent tests/integration/li_confid_silent.sh)
lisec_integration_test(li_confid_counts tests/integration/li_confid_counts.sh)
lisec_integration_test(li_confid_vmrows tests/integration/li_confid_vmrows.sh)
# Another VM whose id begins with an LI VM's and goes on after "." or ":"
# (vm-li.2 beside vm-li): its rows are no LI VM's and the operator reads
# them (li_confid_vmrows_ids).
lisec_integration_test(li_confid_vmrows_ids tests/integration/li_confid_vmrows_ids.sh)
# A row is withheld for the LI VM the model marked it as naming, not for an
# id found in its words: an LI VM called as a host is (li_confid_vmrows_mark).
lisec_integration_test(li_confid_vmrows_mark tests/integration/li_confid_vmrows_mark.sh)
# The records of a VM declared "li" being written are sealed to the LI
# administration: the auditor reads no LI VM's id in one (li_confid_vmput).
lisec_integration_test(li_confid_vmput tests/integration/li_confid_vmput.sh)
