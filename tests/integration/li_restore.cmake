# After `lisec restore` (docs/li.md, "After a restore"): the LI VMs of the
# restored store held as if paired until the LI administration confirms
# them (li_restore_unpair), and signed LI messages that could predate the
# restore refused, whatever counter the restore put back (li_restore_replay).
lisec_integration_test(li_restore_unpair tests/integration/li_restore_unpair.sh)
lisec_integration_test(li_restore_replay tests/integration/li_restore_replay.sh)
