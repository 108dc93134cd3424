# Retained Data (issue 20): the RD administration's signed extension command
# (model/rd_command.c; seeds in fuzz/corpus/rd_command/).
lisec_fuzzer(rd_command ${CMAKE_CURRENT_LIST_DIR}/rd_command.c lisec_model)
if(LISEC_FUZZ)
  target_sources(rd_command PRIVATE ${CMAKE_SOURCE_DIR}/src/model/rd_command.c)
endif()
# The RD VM's public key a data key is wrapped to (model/rd_recipient.c;
# seeds in fuzz/corpus/rd_recipient/).
lisec_fuzzer(rd_recipient ${CMAKE_CURRENT_LIST_DIR}/rd_recipient.c lisec_model)
if(LISEC_FUZZ)
  target_sources(rd_recipient PRIVATE ${CMAKE_SOURCE_DIR}/src/model/rd_recipient.c)
endif()
# The RD administration's signed registration of an RD VM's key, as the
# controller opens it and the keys process binds it (model/rd_register.c;
# seeds in fuzz/corpus/rd_register/, made by scripts/test/rd-register-seeds).
lisec_fuzzer(rd_register ${CMAKE_CURRENT_LIST_DIR}/rd_register.c lisec_model)
