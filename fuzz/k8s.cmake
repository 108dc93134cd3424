# Kubernetes: the AdmissionReview lisecd's admission webhook reads
# (ctl/k8s_review.c, pure; seeds in fuzz/corpus/k8s_review/).
lisec_fuzzer(k8s_review ${CMAKE_CURRENT_LIST_DIR}/k8s_review.c lisec_base)
if(LISEC_FUZZ)
  target_sources(k8s_review PRIVATE ${CMAKE_SOURCE_DIR}/src/ctl/k8s_review.c)
endif()
