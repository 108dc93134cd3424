# pkg/: the manifest and TOSCA.meta parsers, the libvirt domain XML reader,
# whole CSARs through the ZIP member checks (libzip's and csar_cd.c's
# byte-level reading of the end record and central directory) into
# pkg_inspect, and the PEM-only check of the files the manifest does not
# list (seeds in fuzz/corpus/pkg_*/). The parsers' own sources are compiled
# into each harness so libFuzzer's coverage instrumentation reaches them.
set(pkg_parse_sources ${CMAKE_SOURCE_DIR}/src/pkg/lines.c ${CMAKE_SOURCE_DIR}/src/pkg/path.c)
lisec_fuzzer(pkg_manifest ${CMAKE_CURRENT_LIST_DIR}/pkg_manifest.c lisec_pkg)
lisec_fuzzer(pkg_toscameta ${CMAKE_CURRENT_LIST_DIR}/pkg_toscameta.c lisec_pkg)
lisec_fuzzer(pkg_csar ${CMAKE_CURRENT_LIST_DIR}/pkg_csar.c lisec_pkg)
if(LISEC_FUZZ)
  target_sources(pkg_manifest PRIVATE ${pkg_parse_sources} ${CMAKE_SOURCE_DIR}/src/pkg/manifest.c)
  target_sources(pkg_toscameta PRIVATE ${pkg_parse_sources} ${CMAKE_SOURCE_DIR}/src/pkg/toscameta.c)
  target_sources(pkg_csar PRIVATE ${pkg_parse_sources} ${CMAKE_SOURCE_DIR}/src/pkg/csar_zip.c
                 ${CMAKE_SOURCE_DIR}/src/pkg/csar_cd.c ${CMAKE_SOURCE_DIR}/src/pkg/toscameta.c
                 ${CMAKE_SOURCE_DIR}/src/pkg/manifest.c ${CMAKE_SOURCE_DIR}/src/pkg/verify.c)
endif()
# What the files outside the manifest may hold (pem.c): no digest covers them.
lisec_fuzzer(pkg_pem ${CMAKE_CURRENT_LIST_DIR}/pkg_pem.c lisec_pkg)
if(LISEC_FUZZ)
  target_sources(pkg_pem PRIVATE ${CMAKE_SOURCE_DIR}/src/pkg/pem.c)
endif()
# The libvirt domain XML reader (the agent's image reports).
lisec_fuzzer(pkg_domain ${CMAKE_CURRENT_LIST_DIR}/pkg_domain.c lisec_pkg)
if(LISEC_FUZZ)
  target_sources(pkg_domain PRIVATE ${CMAKE_SOURCE_DIR}/src/pkg/domain.c)
endif()
# The vendor CRL intake (issue 21 item 3): what the operator uploads.
lisec_fuzzer(pkg_crl ${CMAKE_CURRENT_LIST_DIR}/pkg_crl.c lisec_pkg)
if(LISEC_FUZZ)
  target_sources(pkg_crl PRIVATE ${CMAKE_SOURCE_DIR}/src/pkg/crl.c)
endif()
