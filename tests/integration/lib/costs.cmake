# Long tests first. A fresh build tree has no CTestCostData.txt, so `ctest -j`
# would start tests in declaration order and a long one started last would
# set the run's tail. COST: seconds on 2 cores, from a clean-clone make check
# (its CTestCostData.txt, tests of 8 s or more); CTest uses its own
# measurements once it has them. A test not listed costs 0 and starts after
# these. Included by the top CMakeLists.txt before any test is added:
# lisec_unit_test and lisec_integration_test (any directory) give a listed
# test its COST, and tests/integration/CMakeLists.txt gives it to the tests
# added there with add_test.
if(LISEC_SANITIZE)
  set(lisec_test_costs vault_rotation 62 attest_api 43 attest_fresh 35 x1_admf_reconcile 29
      model_api 27 lisecd_processes 26 audit_backup 25 li_api 24 cli_gaps 24 ha_failover 23
      x1_admf 23 inventory 22 test_model_incremental 22 observe 20 restart_intercept 20 pkg_agent 19
      audit_rollover 18 attest_end 18 api_http 17 rng_events 16 pkg_api 14
      li_libvirt_acl 14 api_integration 14 pkg_cli 14 audit_crash 13 x1_conformance 13 li_model 12
      attest_agent 12 vault_api 11 rng_entropyd 11 libvirt_hook 11 cli_integration 10 pkg_end 9
      test_store_postgres 9 audit_postgres 9 k8s_filter 8 x1_ne_status 8
      store_pg_stall 32)
else()
  set(lisec_test_costs debian_package 167 li_api 66 rng_vm 66 li_leak 31 ids 30 attest_fresh 30
      attest_api 28 x1_admf 25 api_dos 24 vault_rotation 24 audit_backup 23 model_api_postgres 23
      ui 23 x1_admf_reconcile 22 libvirt_qemu 22 lisecd_processes 20 ha_failover 20 model_api 19
      audit_crash 17 restart_intercept 17 inventory 17 test_model_incremental 16 api_http 16
      nova_filter 15 audit_tamper 15 lisecd_memory 15 pkg_agent 14 openapi 14 attest_tpm2tools 14
      observe 14 x1_conformance 13 cli_gaps 13 attest_end 12 pkg_api 12 api_integration 11
      li_model 10 rng_events 10 test_store_postgres 10 attest_agent 10 pkg_cli 9 audit_spec 9
      vault_api 8 pkg_end 8 rng_entropyd 8 deploy_doc 8 store_pg_stall 30)
endif()
set(lisec_test_cost_names "")
while(lisec_test_costs)
  list(POP_FRONT lisec_test_costs lisec_cost_name lisec_cost_seconds)
  set(LISEC_COST_${lisec_cost_name} ${lisec_cost_seconds})
  list(APPEND lisec_test_cost_names ${lisec_cost_name})
endwhile()

# lisec_test_cost(NAME): NAME's COST, if listed; call it in the directory
# that added the test (set_tests_properties sees only that directory's).
function(lisec_test_cost name)
  if(DEFINED LISEC_COST_${name} AND TEST ${name})
    set_tests_properties(${name} PROPERTIES COST ${LISEC_COST_${name}})
  endif()
endfunction()
