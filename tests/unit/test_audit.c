/* Unit tests of audit/: the RFC 9162 tree against the RFC 6962 classic
 * eight-leaf vectors (roots as published with RFC 6962's reference tests and
 * in shared/vectors; every inclusion and consistency proof of sizes 1..8 as
 * computed by tests/integration/audit_reference.py, an independent Python
 * reading of the RFC, and matching the published CT proofs), the compact tree
 * against the plain definition on larger trees, bad proofs refused, the
 * entry format and its decoder's bounds, sealing, and C2SP signed notes
 * against the golang.org/x/mod/sumdb/note example (PeterNeumann). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/audit.h"

typedef struct root_vec {
  uint64_t n;
  const char *root;
} root_vec;

typedef struct path_vec {
  uint64_t a, n; /* index (or old size), tree size */
  size_t len;
  const char *hash[6];
} path_vec;

static const char *const classic_leaves[8] = {"", "00", "10", "2021", "3031", "40414243",
                                              "5051525354555657",
                                              "606162636465666768696a6b6c6d6e6f"};

static const root_vec roots[] = {
  {0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
  {1, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"},
  {2, "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"},
  {3, "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"},
  {4, "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"},
  {5, "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"},
  {6, "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"},
  {7, "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"},
  {8, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"},
};

static const path_vec inclusion[] = {
  {0, 1, 0, {NULL}},
  {0, 2, 1, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"}},
  {1, 2, 1, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}},
  {0, 3, 2, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"}},
  {1, 3, 2, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"}},
  {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
  {0, 4, 2, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"}},
  {1, 4, 2, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"}},
  {2, 4, 2, {"07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
  {3, 4, 2, {"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
  {0, 5, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  {1, 5, 3, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  {2, 5, 3, {"07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  {3, 5, 3, {"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  {4, 5, 1, {"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {0, 6, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"}},
  {1, 6, 3, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"}},
  {2, 6, 3, {"07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"}},
  {3, 6, 3, {"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"}},
  {4, 6, 2, {"4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {5, 6, 2, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {0, 7, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"}},
  {1, 7, 3, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"}},
  {2, 7, 3, {"07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"}},
  {3, 7, 3, {"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"}},
  {4, 7, 3, {"4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658", "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {5, 7, 3, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {6, 7, 2, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {0, 8, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
  {1, 8, 3, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
  {2, 8, 3, {"07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
  {3, 8, 3, {"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
  {4, 8, 3, {"4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {5, 8, 3, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {6, 8, 3, {"46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1", "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {7, 8, 3, {"b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

static const path_vec consistency[] = {
  {1, 1, 0, {NULL}},
  {1, 2, 1, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"}},
  {2, 2, 0, {NULL}},
  {1, 3, 2, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"}},
  {2, 3, 1, {"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"}},
  {3, 3, 0, {NULL}},
  {1, 4, 2, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"}},
  {2, 4, 1, {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"}},
  {3, 4, 3, {"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7", "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
  {4, 4, 0, {NULL}},
  {1, 5, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  {2, 5, 2, {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  {3, 5, 4, {"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7", "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  {4, 5, 1, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  {5, 5, 0, {NULL}},
  {1, 6, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"}},
  {2, 6, 2, {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"}},
  {3, 6, 4, {"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7", "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"}},
  {4, 6, 1, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"}},
  {5, 6, 3, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {6, 6, 0, {NULL}},
  {1, 7, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"}},
  {2, 7, 2, {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"}},
  {3, 7, 4, {"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7", "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"}},
  {4, 7, 1, {"837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"}},
  {5, 7, 4, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658", "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {6, 7, 3, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {7, 7, 0, {NULL}},
  {1, 8, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
  {2, 8, 2, {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
  {3, 8, 4, {"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7", "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
  {4, 8, 1, {"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
  {5, 8, 4, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {6, 8, 3, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {7, 8, 4, {"b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1", "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  {8, 8, 0, {NULL}},
};

/* ---- helpers ------------------------------------------------------------ */

static void unhex(const char *hex, uint8_t *out, size_t n) {
  assert_int_equal(strlen(hex), 2 * n);
  assert_int_equal(lisec_hex_decode(hex, out, n), 0);
}

static uint8_t classic[8][AUDIT_HASH_LEN];

static int setup_classic(void **state) {
  (void)state;
  for (int i = 0; i < 8; i++) {
    uint8_t data[16];
    size_t n = strlen(classic_leaves[i]) / 2;
    if (n) unhex(classic_leaves[i], data, n);
    audit_hash_leaf(data, n, classic[i]);
  }
  return 0;
}

/* A leaf source over an array, counting how often the tree asks. */
typedef struct array_src {
  const uint8_t (*leaves)[AUDIT_HASH_LEN];
  uint64_t n;
  int calls;
  uint64_t asked;
  int fail;
} array_src;

static int array_fetch(void *ctx, uint64_t from, uint64_t count, uint8_t (*out)[AUDIT_HASH_LEN],
                       lisec_err *err) {
  array_src *s = ctx;
  s->calls++;
  s->asked += count;
  if (s->fail) return lisec_err_set(err, LISEC_ESTORE, "test source fails");
  if (from + count > s->n) return lisec_err_set(err, LISEC_EINVAL, "asked beyond the leaves");
  memcpy(out, s->leaves[from], count * AUDIT_HASH_LEN);
  return 0;
}

static audit_tree *tree_of(const uint8_t (*leaves)[AUDIT_HASH_LEN], uint64_t n, unsigned low) {
  audit_tree *t = NULL;
  lisec_err err = {0};
  assert_int_equal(audit_tree_new(low, &t, &err), 0);
  for (uint64_t i = 0; i < n; i++) assert_int_equal(audit_tree_append(t, leaves[i], &err), 0);
  return t;
}

static void proof_of(const path_vec *v, audit_proof *p) {
  p->len = v->len;
  for (size_t i = 0; i < v->len; i++) unhex(v->hash[i], p->hash[i], AUDIT_HASH_LEN);
}

/* ---- RFC 6962 / 9162 vectors -------------------------------------------- */

static void test_roots_classic(void **state) {
  (void)state;
  for (size_t v = 0; v < LISEC_ARRAY_LEN(roots); v++) {
    uint8_t want[AUDIT_HASH_LEN], got[AUDIT_HASH_LEN];
    unhex(roots[v].root, want, AUDIT_HASH_LEN);
    audit_root_of_leaves((const uint8_t(*)[AUDIT_HASH_LEN])classic, roots[v].n, got);
    assert_memory_equal(got, want, AUDIT_HASH_LEN);
    audit_frontier f;
    audit_frontier_init(&f);
    lisec_err err = {0};
    for (uint64_t i = 0; i < roots[v].n; i++) assert_int_equal(audit_frontier_append(&f, classic[i], &err), 0);
    audit_frontier_root(&f, got);
    assert_memory_equal(got, want, AUDIT_HASH_LEN);
    for (unsigned low = 0; low <= 3; low++) {
      audit_tree *t = tree_of((const uint8_t(*)[AUDIT_HASH_LEN])classic, roots[v].n, low);
      array_src src = {.leaves = (const uint8_t(*)[AUDIT_HASH_LEN])classic, .n = roots[v].n};
      assert_int_equal(audit_tree_root(t, roots[v].n, array_fetch, &src, got, &err), 0);
      assert_memory_equal(got, want, AUDIT_HASH_LEN);
      audit_tree_free(t);
    }
  }
  /* The issue's own figure, from shared/vectors/README.md. */
  uint8_t want8[AUDIT_HASH_LEN], got8[AUDIT_HASH_LEN];
  unhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328", want8, 32);
  audit_root_of_leaves((const uint8_t(*)[AUDIT_HASH_LEN])classic, 8, got8);
  assert_memory_equal(got8, want8, 32);
}

static void root_at(uint64_t n, uint8_t out[AUDIT_HASH_LEN]) {
  audit_root_of_leaves((const uint8_t(*)[AUDIT_HASH_LEN])classic, n, out);
}

static void test_inclusion_classic(void **state) {
  (void)state;
  lisec_err err = {0};
  for (size_t v = 0; v < LISEC_ARRAY_LEN(inclusion); v++) {
    const path_vec *pv = &inclusion[v];
    audit_proof want, got;
    proof_of(pv, &want);
    uint8_t root[AUDIT_HASH_LEN];
    root_at(pv->n, root);
    for (unsigned low = 0; low <= 3; low++) {
      audit_tree *t = tree_of((const uint8_t(*)[AUDIT_HASH_LEN])classic, 8, low);
      array_src src = {.leaves = (const uint8_t(*)[AUDIT_HASH_LEN])classic, .n = 8};
      assert_int_equal(audit_tree_prove_inclusion(t, pv->a, pv->n, array_fetch, &src, &got, &err), 0);
      assert_int_equal(got.len, want.len);
      assert_memory_equal(got.hash, want.hash, want.len * AUDIT_HASH_LEN);
      audit_tree_free(t);
    }
    assert_int_equal(audit_verify_inclusion(pv->a, pv->n, classic[pv->a], &want, root, &err), 0);
    /* Every single-byte change, a wrong position, size or leaf, and a proof
     * one hash too long or too short is refused. */
    for (size_t i = 0; i < want.len; i++) {
      audit_proof bad = want;
      bad.hash[i][7] ^= 0x40;
      assert_int_equal(audit_verify_inclusion(pv->a, pv->n, classic[pv->a], &bad, root, &err),
                       LISEC_ECRYPTO);
    }
    if (pv->a + 1 < pv->n)
      assert_int_not_equal(audit_verify_inclusion(pv->a + 1, pv->n, classic[pv->a], &want, root, &err), 0);
    assert_int_not_equal(audit_verify_inclusion(pv->a, pv->n, classic[(pv->a + 1) % 8], &want, root, &err), 0);
    assert_int_equal(audit_verify_inclusion(pv->n, pv->n, classic[pv->a], &want, root, &err), LISEC_ECRYPTO);
    audit_proof longer = want;
    memcpy(longer.hash[longer.len++], root, AUDIT_HASH_LEN);
    assert_int_equal(audit_verify_inclusion(pv->a, pv->n, classic[pv->a], &longer, root, &err), LISEC_ECRYPTO);
    if (want.len) {
      audit_proof shorter = want;
      shorter.len--;
      assert_int_equal(audit_verify_inclusion(pv->a, pv->n, classic[pv->a], &shorter, root, &err),
                       LISEC_ECRYPTO);
    }
  }
}

static void test_consistency_classic(void **state) {
  (void)state;
  lisec_err err = {0};
  for (size_t v = 0; v < LISEC_ARRAY_LEN(consistency); v++) {
    const path_vec *pv = &consistency[v];
    audit_proof want, got;
    proof_of(pv, &want);
    uint8_t old_root[AUDIT_HASH_LEN], new_root[AUDIT_HASH_LEN];
    root_at(pv->a, old_root);
    root_at(pv->n, new_root);
    for (unsigned low = 0; low <= 3; low++) {
      audit_tree *t = tree_of((const uint8_t(*)[AUDIT_HASH_LEN])classic, 8, low);
      array_src src = {.leaves = (const uint8_t(*)[AUDIT_HASH_LEN])classic, .n = 8};
      assert_int_equal(audit_tree_prove_consistency(t, pv->a, pv->n, array_fetch, &src, &got, &err), 0);
      assert_int_equal(got.len, want.len);
      assert_memory_equal(got.hash, want.hash, want.len * AUDIT_HASH_LEN);
      audit_tree_free(t);
    }
    assert_int_equal(audit_verify_consistency(pv->a, pv->n, old_root, new_root, &want, &err), 0);
    for (size_t i = 0; i < want.len; i++) {
      audit_proof bad = want;
      bad.hash[i][0] ^= 0x01;
      assert_int_equal(audit_verify_consistency(pv->a, pv->n, old_root, new_root, &bad, &err),
                       LISEC_ECRYPTO);
    }
    uint8_t wrong[AUDIT_HASH_LEN];
    memcpy(wrong, old_root, AUDIT_HASH_LEN);
    wrong[31] ^= 1;
    assert_int_equal(audit_verify_consistency(pv->a, pv->n, wrong, new_root, &want, &err), LISEC_ECRYPTO);
    assert_int_equal(audit_verify_consistency(pv->a, pv->n, old_root, wrong, &want, &err), LISEC_ECRYPTO);
    if (pv->a < pv->n) {
      audit_proof empty = {.len = 0};
      assert_int_equal(audit_verify_consistency(pv->a, pv->n, old_root, new_root, &empty, &err),
                       LISEC_ECRYPTO);
      assert_int_equal(audit_verify_consistency(pv->n, pv->a, new_root, old_root, &want, &err),
                       LISEC_ECRYPTO);
      audit_proof shorter = want;
      shorter.len--;
      assert_int_equal(audit_verify_consistency(pv->a, pv->n, old_root, new_root, &shorter, &err),
                       LISEC_ECRYPTO);
    }
  }
  /* From the empty tree: only the empty proof. */
  uint8_t r0[AUDIT_HASH_LEN], r8[AUDIT_HASH_LEN];
  root_at(0, r0);
  root_at(8, r8);
  audit_proof empty = {.len = 0}, one = {.len = 1};
  assert_int_equal(audit_verify_consistency(0, 8, r0, r8, &empty, &err), 0);
  assert_int_equal(audit_verify_consistency(0, 8, r0, r8, &one, &err), LISEC_ECRYPTO);
  audit_proof huge = {.len = AUDIT_PROOF_MAX + 1};
  assert_int_equal(audit_verify_consistency(2, 8, r0, r8, &huge, &err), LISEC_EINVAL);
  assert_int_equal(audit_verify_inclusion(2, 8, r0, &huge, r8, &err), LISEC_EINVAL);
}

/* ---- the compact tree on larger trees ----------------------------------- */

#define BIG 2500

/* The stored frontier's text: exactly the form written, or refused naming
 * TR103308-5.5 (a node too few or too many, upper-case or short hex, a
 * size with a leading zero or past the bound, anything after it). */
static void test_frontier_text(void **state) {
  (void)state;
  audit_frontier f, back;
  audit_frontier_init(&f);
  lisec_err err = {0};
  for (uint32_t i = 0; i < 5; i++) {
    uint8_t h[AUDIT_HASH_LEN];
    audit_hash_leaf(&i, sizeof i, h);
    assert_int_equal(audit_frontier_append(&f, h, &err), 0);
  }
  char *text = NULL;
  assert_int_equal(audit_frontier_format(&f, &text, &err), 0);
  assert_int_equal(strncmp(text, "{\"tree_size\":5,\"nodes\":[\"", 25), 0);
  assert_int_equal(audit_frontier_parse(text, strlen(text), &back, &err), 0);
  assert_int_equal(back.size, 5);
  assert_memory_equal(back.node[2], f.node[2], AUDIT_HASH_LEN);
  assert_memory_equal(back.node[0], f.node[0], AUDIT_HASH_LEN);
  size_t len = strlen(text);
  char *cut = strndup(text, len - 2 - 67); /* the last node dropped */
  char bad[8200];
  snprintf(bad, sizeof bad, "%s]}", cut);
  const char *refused[] = {"", "{}", "{\"tree_size\":05,\"nodes\":[]}", "{\"tree_size\":0,\"nodes\":[]} ",
                           "{\"tree_size\":99999999999999999999,\"nodes\":[]}", bad};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    memset(&err, 0, sizeof err);
    assert_int_equal(audit_frontier_parse(refused[i], strlen(refused[i]), &back, &err), LISEC_EINVAL);
    assert_non_null(strstr(err.msg, "TR103308-5.5"));
  }
  const char *empty = "{\"tree_size\":0,\"nodes\":[]}";
  assert_int_equal(audit_frontier_parse(empty, strlen(empty), &back, &err), 0);
  assert_int_equal(back.size, 0);
  char *upper = strdup(text);
  upper[25] = 'A'; /* lower-case hex only */
  assert_int_equal(audit_frontier_parse(upper, len, &back, &err), LISEC_EINVAL);
  assert_int_equal(audit_frontier_parse(text, len - 1, &back, &err), LISEC_EINVAL);
  snprintf(bad, sizeof bad, "%.*s,\"%064d\"]}", (int)(len - 2), text, 0); /* one node too many */
  assert_int_equal(audit_frontier_parse(bad, strlen(bad), &back, &err), LISEC_EINVAL);
  free(upper);
  free(cut);
  free(text);
}

static void test_tree_compact_matches_definition(void **state) {
  (void)state;
  static uint8_t leaves[BIG][AUDIT_HASH_LEN];
  for (uint32_t i = 0; i < BIG; i++) audit_hash_leaf(&i, sizeof i, leaves[i]);
  const uint8_t(*L)[AUDIT_HASH_LEN] = (const uint8_t(*)[AUDIT_HASH_LEN])leaves;
  audit_tree *full = tree_of(L, BIG, 0), *c4 = tree_of(L, BIG, 4), *c6 = tree_of(L, BIG, 6);
  assert_true(audit_tree_memory(c4) < audit_tree_memory(full) / 4);
  lisec_err err = {0};
  array_src src = {.leaves = L, .n = BIG};
  audit_frontier f;
  audit_frontier_init(&f);
  for (uint64_t n = 0; n <= BIG; n++) {
    uint8_t want[AUDIT_HASH_LEN], got[AUDIT_HASH_LEN];
    if (n % 97 == 0 || n < 70 || n == BIG) {
      audit_root_of_leaves(L, n, want);
      assert_int_equal(audit_tree_root(full, n, NULL, NULL, got, &err), 0);
      assert_memory_equal(got, want, AUDIT_HASH_LEN);
      assert_int_equal(audit_tree_root(c4, n, array_fetch, &src, got, &err), 0);
      assert_memory_equal(got, want, AUDIT_HASH_LEN);
      assert_int_equal(audit_tree_root(c6, n, array_fetch, &src, got, &err), 0);
      assert_memory_equal(got, want, AUDIT_HASH_LEN);
      audit_frontier_root(&f, got);
      assert_memory_equal(got, want, AUDIT_HASH_LEN);
      /* the compact tree's right edge at n is the streamed one, and it
       * goes through its stored text unchanged */
      audit_frontier tf, back;
      assert_int_equal(audit_tree_frontier(c4, n, array_fetch, &src, &tf, &err), 0);
      assert_int_equal(tf.size, n);
      for (int h = 0; h < 64; h++)
        if (n & ((uint64_t)1 << h)) assert_memory_equal(tf.node[h], f.node[h], AUDIT_HASH_LEN);
      char *text = NULL;
      assert_int_equal(audit_frontier_format(&tf, &text, &err), 0);
      assert_int_equal(audit_frontier_parse(text, strlen(text), &back, &err), 0);
      audit_frontier_root(&back, got);
      assert_memory_equal(got, want, AUDIT_HASH_LEN);
      free(text);
    }
    if (n < BIG) assert_int_equal(audit_frontier_append(&f, L[n], &err), 0);
  }
  assert_int_equal(audit_tree_frontier(c4, BIG + 1, array_fetch, &src, &f, &err), LISEC_EINVAL);
  uint32_t seed = 12345;
  for (int k = 0; k < 3000; k++) {
    seed = seed * 1103515245u + 12345u;
    uint64_t n = 1 + (seed >> 8) % BIG;
    seed = seed * 1103515245u + 12345u;
    uint64_t i = (seed >> 8) % n;
    uint8_t root[AUDIT_HASH_LEN];
    audit_root_of_leaves(L, n, root);
    audit_proof a, b, c;
    assert_int_equal(audit_tree_prove_inclusion(full, i, n, NULL, NULL, &a, &err), 0);
    src.calls = 0;
    src.asked = 0;
    assert_int_equal(audit_tree_prove_inclusion(c4, i, n, array_fetch, &src, &b, &err), 0);
    /* At most two groups of 16 leaf hashes are fetched per proof: the
     * leaf's own and the one at the right edge of size n. */
    assert_true(src.calls <= 2 && src.asked <= 32);
    assert_int_equal(audit_tree_prove_inclusion(c6, i, n, array_fetch, &src, &c, &err), 0);
    assert_int_equal(a.len, b.len);
    assert_int_equal(a.len, c.len);
    assert_memory_equal(a.hash, b.hash, a.len * AUDIT_HASH_LEN);
    assert_memory_equal(a.hash, c.hash, a.len * AUDIT_HASH_LEN);
    assert_int_equal(audit_verify_inclusion(i, n, L[i], &a, root, &err), 0);
    /* consistency from m = i + 1 to n */
    uint64_t m = i + 1;
    uint8_t old_root[AUDIT_HASH_LEN];
    audit_root_of_leaves(L, m, old_root);
    assert_int_equal(audit_tree_prove_consistency(full, m, n, NULL, NULL, &a, &err), 0);
    src.calls = 0;
    assert_int_equal(audit_tree_prove_consistency(c4, m, n, array_fetch, &src, &b, &err), 0);
    assert_true(src.calls <= 2);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.hash, b.hash, a.len * AUDIT_HASH_LEN);
    assert_int_equal(audit_verify_consistency(m, n, old_root, root, &a, &err), 0);
  }
  /* Sizes beyond the tree and a failing source are errors, not proofs. */
  audit_proof p;
  assert_int_equal(audit_tree_prove_inclusion(c4, 0, BIG + 1, array_fetch, &src, &p, &err), LISEC_EINVAL);
  assert_int_equal(audit_tree_prove_inclusion(c4, 5, 5, array_fetch, &src, &p, &err), LISEC_EINVAL);
  assert_int_equal(audit_tree_prove_consistency(c4, 9, 5, array_fetch, &src, &p, &err), LISEC_EINVAL);
  src.fail = 1;
  assert_int_equal(audit_tree_prove_inclusion(c4, 3, 2000, array_fetch, &src, &p, &err), LISEC_ESTORE);
  assert_int_equal(audit_tree_prove_inclusion(c4, 3, 2000, NULL, NULL, &p, &err), LISEC_EINVAL);
  audit_tree *bad = NULL;
  assert_int_equal(audit_tree_new(AUDIT_LOW_LEVEL_MAX + 1, &bad, &err), LISEC_EINVAL);
  audit_tree_free(full);
  audit_tree_free(c4);
  audit_tree_free(c6);
}

/* ---- entries ------------------------------------------------------------ */

static audit_record sample_record(void) {
  audit_record r = {.seq = 258, .time_ms = 1700000000123, .actor = "CN=li-admin-1",
                    .role = "li-admin", .action = "target.add", .outcome = "ok"};
  r.subjects[0] = "target t-1";
  r.subjects[1] = "auth w-9";
  r.n_subjects = 2;
  r.reasons[0] = "warrant w-9 valid until 2027-01-01 (Zürich)";
  r.n_reasons = 1;
  return r;
}

static void test_entry_format(void **state) {
  (void)state;
  lisec_err err = {0};
  /* The documented layout, byte for byte, for a minimal record. */
  audit_record tiny = {.seq = 1, .time_ms = 2, .actor = "a", .role = "r", .action = "x", .outcome = "ok"};
  static const uint8_t tiny_bytes[] = {0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0,
                                       0, 1, 'a', 0, 1, 'r', 0, 1, 'x', 0, 2, 'o', 'k', 0, 0};
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(audit_entry_encode(&tiny, &buf, &len, &err), 0);
  assert_int_equal(len, sizeof tiny_bytes);
  assert_memory_equal(buf, tiny_bytes, len);
  free(buf);

  audit_record r = sample_record(), d;
  assert_int_equal(audit_entry_encode(&r, &buf, &len, &err), 0);
  assert_int_equal(audit_entry_decode(buf, len, &d, &err), 0);
  assert_int_equal(d.seq, 258);
  assert_int_equal(d.time_ms, 1700000000123);
  assert_false(d.li);
  assert_string_equal(d.actor, r.actor);
  assert_string_equal(d.role, r.role);
  assert_string_equal(d.action, r.action);
  assert_string_equal(d.outcome, r.outcome);
  assert_int_equal(d.n_subjects, 2);
  assert_string_equal(d.subjects[1], "auth w-9");
  assert_int_equal(d.n_reasons, 1);
  assert_string_equal(d.reasons[0], r.reasons[0]);
  audit_record_clear(&d);
  uint64_t seq = 0;
  assert_int_equal(audit_entry_peek_seq(buf, len, &seq, &err), 0);
  assert_int_equal(seq, 258);

  /* Every truncation and one byte too many are refused. */
  for (size_t n = 0; n < len; n++) assert_int_not_equal(audit_entry_decode(buf, n, &d, &err), 0);
  uint8_t *longer = malloc(len + 1);
  memcpy(longer, buf, len);
  longer[len] = 0;
  assert_int_equal(audit_entry_decode(longer, len + 1, &d, &err), LISEC_EINVAL);
  /* Unknown type, unknown flags, a control character, bad UTF-8. */
  memcpy(longer, buf, len);
  longer[0] = 0x07;
  assert_int_equal(audit_entry_decode(longer, len, &d, &err), LISEC_EINVAL);
  memcpy(longer, buf, len);
  longer[17] = 0x02;
  assert_int_equal(audit_entry_decode(longer, len, &d, &err), LISEC_EINVAL);
  memcpy(longer, buf, len);
  longer[20] = '\n'; /* inside the actor string */
  assert_int_equal(audit_entry_decode(longer, len, &d, &err), LISEC_EINVAL);
  memcpy(longer, buf, len);
  longer[20] = 0xc0; /* overlong lead byte */
  longer[21] = 0x80;
  assert_int_equal(audit_entry_decode(longer, len, &d, &err), LISEC_EINVAL);
  memcpy(longer, buf, len);
  longer[18] = 0xff; /* actor length far beyond the entry */
  assert_int_equal(audit_entry_decode(longer, len, &d, &err), LISEC_EINVAL);
  free(longer);
  free(buf);

  /* A sealed entry does not decode without being opened first. */
  static const uint8_t sealed_prefix[64] = {AUDIT_ENTRY_SEALED};
  assert_int_equal(audit_entry_decode(sealed_prefix, sizeof sealed_prefix, &d, &err), LISEC_EDENIED);
  uint8_t big[AUDIT_ENTRY_MAX + 1] = {AUDIT_ENTRY_PLAIN};
  assert_int_equal(audit_entry_decode(big, sizeof big, &d, &err), LISEC_ETOOBIG);

  /* The encoder refuses what the decoder would refuse. */
  audit_record e = sample_record();
  e.actor = "";
  assert_int_equal(audit_entry_encode(&e, &buf, &len, &err), LISEC_EINVAL);
  e = sample_record();
  e.role = "bad\x01role";
  assert_int_equal(audit_entry_encode(&e, &buf, &len, &err), LISEC_EINVAL);
  e = sample_record();
  e.reasons[0] = "\xed\xa0\x80 surrogate";
  assert_int_equal(audit_entry_encode(&e, &buf, &len, &err), LISEC_EINVAL);
  e = sample_record();
  e.n_subjects = AUDIT_LIST_MAX + 1;
  assert_int_equal(audit_entry_encode(&e, &buf, &len, &err), LISEC_EINVAL);
  char *long_str = malloc(AUDIT_STR_MAX + 2);
  memset(long_str, 'x', AUDIT_STR_MAX + 1);
  long_str[AUDIT_STR_MAX + 1] = '\0';
  e = sample_record();
  e.action = long_str;
  assert_int_equal(audit_entry_encode(&e, &buf, &len, &err), LISEC_EINVAL);
  long_str[AUDIT_STR_MAX] = '\0';
  assert_int_equal(audit_entry_encode(&e, &buf, &len, &err), 0);
  free(buf);
  free(long_str);
}

static void test_entry_sealing(void **state) {
  (void)state;
  lisec_err err = {0};
  uint8_t pk[32], sk[32], pk2[32], sk2[32];
  assert_int_equal(audit_li_keygen(pk, sk, &err), 0);
  assert_int_equal(audit_li_keygen(pk2, sk2, &err), 0);
  audit_record r = sample_record(), d;
  r.li = true;
  uint8_t *plain = NULL, *sealed = NULL, *opened = NULL;
  size_t plen = 0, slen = 0, olen = 0;
  assert_int_equal(audit_entry_encode(&r, &plain, &plen, &err), 0);
  assert_int_equal(audit_entry_seal(plain, plen, pk, &sealed, &slen, &err), 0);
  assert_int_equal(sealed[0], AUDIT_ENTRY_SEALED);
  /* padded to the first bucket (test_audit_seal.c has the rest) */
  assert_true(plen + 2 <= AUDIT_SEAL_BUCKET);
  assert_int_equal(slen, 1 + 48 + AUDIT_SEAL_BUCKET);
  /* Nothing of the record shows in the ciphertext. */
  assert_null(memmem(sealed, slen, "target", 6));
  assert_null(memmem(sealed, slen, "li-admin", 8));
  assert_int_equal(audit_entry_decode(sealed, slen, &d, &err), LISEC_EDENIED);
  /* Only the LI administration's key opens it. */
  assert_int_equal(audit_entry_open(sealed, slen, sk2, &opened, &olen, &err), LISEC_ECRYPTO);
  assert_non_null(strstr(err.msg, "TR103308-4.1"));
  assert_int_equal(audit_entry_open(sealed, slen, sk, &opened, &olen, &err), 0);
  assert_int_equal(olen, plen);
  assert_memory_equal(opened, plain, plen);
  assert_int_equal(audit_entry_decode(opened, olen, &d, &err), 0);
  assert_true(d.li);
  assert_string_equal(d.action, "target.add");
  audit_record_clear(&d);
  free(opened);
  sealed[slen / 2] ^= 0x20;
  assert_int_equal(audit_entry_open(sealed, slen, sk, &opened, &olen, &err), LISEC_ECRYPTO);
  assert_int_equal(audit_entry_open(sealed, 40, sk, &opened, &olen, &err), LISEC_EINVAL);
  assert_int_equal(audit_entry_open(plain, plen, sk, &opened, &olen, &err), LISEC_EINVAL);
  assert_int_equal(audit_entry_seal(sealed, slen, pk, &opened, &olen, &err), LISEC_EINVAL);
  free(sealed);
  free(plain);
}

/* ---- signed notes ------------------------------------------------------- */

/* golang.org/x/mod/sumdb/note's documented example. */
#define GO_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define GO_SKEY_B64 "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define GO_TEXT                                                  \
  "If you think cryptography is the answer to your problem,\n" \
  "then you don't know what your problem is.\n"
#define GO_NOTE \
  GO_TEXT "\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"

typedef struct sodium_signer {
  uint8_t sk[64];
  int calls;
  bool corrupt;
} sodium_signer;

static int sodium_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64], lisec_err *err) {
  (void)err;
  sodium_signer *s = ctx;
  s->calls++;
  crypto_sign_detached(sig, NULL, msg, len, s->sk);
  if (s->corrupt) sig[5] ^= 1;
  return 0;
}

static void go_signer(sodium_signer *s, audit_vkey *k) {
  uint8_t raw[33], pk[32];
  size_t raw_len = 0;
  assert_int_equal(sodium_base642bin(raw, sizeof raw, GO_SKEY_B64, strlen(GO_SKEY_B64), NULL,
                                     &raw_len, NULL, sodium_base64_VARIANT_ORIGINAL),
                   0);
  assert_int_equal(raw_len, 33);
  assert_int_equal(raw[0], 0x01);
  memset(s, 0, sizeof *s);
  crypto_sign_seed_keypair(pk, s->sk, raw + 1);
  lisec_err err = {0};
  assert_int_equal(audit_vkey_make("PeterNeumann", pk, k, &err), 0);
}

static void test_note_go_vector(void **state) {
  (void)state;
  assert_true(sodium_init() >= 0);
  lisec_err err = {0};
  audit_vkey k, mine;
  assert_int_equal(audit_vkey_parse(GO_VKEY, &k, &err), 0);
  assert_string_equal(k.name, "PeterNeumann");
  assert_int_equal(k.id, 0xc74f20a3u);
  char *text = NULL;
  assert_int_equal(audit_vkey_format(&k, &text, &err), 0);
  assert_string_equal(text, GO_VKEY);
  free(text);
  size_t tlen = 0;
  assert_int_equal(audit_note_verify(GO_NOTE, strlen(GO_NOTE), &k, &tlen, &err), 0);
  assert_int_equal(tlen, strlen(GO_TEXT));
  /* Ed25519 is deterministic: signing the text again gives the same note. */
  sodium_signer s;
  go_signer(&s, &mine);
  assert_int_equal(mine.id, k.id);
  assert_memory_equal(mine.pk, k.pk, 32);
  char *note = NULL;
  assert_int_equal(audit_note_sign_text(GO_TEXT, strlen(GO_TEXT), &mine, sodium_sign, &s, &note, &err), 0);
  assert_string_equal(note, GO_NOTE);
  free(note);
  /* One changed letter in the text breaks the signature. */
  char altered[] = GO_NOTE;
  altered[9] = 'T';
  assert_int_equal(audit_note_verify(altered, strlen(altered), &k, &tlen, &err), LISEC_ECRYPTO);
  /* Mangled verifier keys are refused. */
  assert_int_equal(audit_vkey_parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &k, &err), LISEC_EINVAL);
  assert_int_equal(audit_vkey_parse("PeterNeumann+c74f20a3+AhpcdkcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &k, &err), LISEC_EINVAL);
  assert_int_equal(audit_vkey_parse("PeterNeumann+c74f20a3", &k, &err), LISEC_EINVAL);
  assert_int_equal(audit_vkey_parse("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &k, &err), LISEC_EINVAL);
  assert_int_equal(audit_vkey_parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", &k, &err), LISEC_EINVAL);
}

static void test_checkpoint_notes(void **state) {
  (void)state;
  lisec_err err = {0};
  sodium_signer s, other;
  audit_vkey k, ko;
  uint8_t pk[32];
  memset(&s, 0, sizeof s);
  memset(&other, 0, sizeof other);
  crypto_sign_keypair(pk, s.sk);
  assert_int_equal(audit_vkey_make("lisec.test/audit", pk, &k, &err), 0);
  crypto_sign_keypair(pk, other.sk);
  assert_int_equal(audit_vkey_make("lisec.test/audit", pk, &ko, &err), 0);

  audit_checkpoint cp = {.origin = "lisec.test/audit", .size = 8}, got;
  unhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328", cp.root, 32);
  char *note = NULL;
  assert_int_equal(audit_note_sign(&cp, &k, sodium_sign, &s, &note, &err), 0);
  /* The C2SP checkpoint body, then the signature line. */
  const char *head = "lisec.test/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n\xe2\x80\x94 lisec.test/audit ";
  assert_int_equal(strncmp(note, head, strlen(head)), 0);
  assert_int_equal(audit_note_open(note, strlen(note), &k, &got, &err), 0);
  assert_string_equal(got.origin, cp.origin);
  assert_int_equal(got.size, 8);
  assert_memory_equal(got.root, cp.root, 32);
  /* The same note with another key of the same name: not ours. */
  assert_int_equal(audit_note_open(note, strlen(note), &ko, &got, &err), LISEC_ECRYPTO);
  /* A changed size or root breaks the signature. */
  char *bad = strdup(note);
  bad[17] = '9';
  assert_int_equal(audit_note_open(bad, strlen(bad), &k, &got, &err), LISEC_ECRYPTO);
  free(bad);
  /* A witness's extra signature line is ignored; ours still counts. */
  char *cosigned = NULL;
  assert_true(asprintf(&cosigned, "%s\xe2\x80\x94 witness.example AAAAAAAAAAAAAAAAAAAAAAAA\n", note) > 0);
  assert_int_equal(audit_note_open(cosigned, strlen(cosigned), &k, &got, &err), 0);
  free(cosigned);
  /* A signing callback that returns a bad signature publishes nothing. */
  s.corrupt = true;
  char *none = NULL;
  assert_int_equal(audit_note_sign(&cp, &k, sodium_sign, &s, &none, &err), LISEC_ECRYPTO);
  assert_null(none);
  s.corrupt = false;
  free(note);

  /* Malformed notes and checkpoints. */
  static const char *const malformed[] = {
      "",
      "lisec.test/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
      "lisec.test/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n",
      "lisec.test/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n- lisec.test/audit AAAA\n",
      "lisec.test/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n\xe2\x80\x94 lisec.test/audit !!!!\n",
      "lisec.test/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n\xe2\x80\x94 lisec.test/audit AAAA",
      "lisec.test/audit\n8\n\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n\xe2\x80\x94 x AAAAAAAA\n",
  };
  for (size_t i = 0; i < LISEC_ARRAY_LEN(malformed); i++)
    assert_int_not_equal(audit_note_open(malformed[i], strlen(malformed[i]), &k, &got, &err), 0);
  static const char *const bodies[] = {
      "lisec.test/audit\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
      "lisec.test/audit\n-8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
      "lisec.test/audit\n99999999999999999999\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
      "lisec.test/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/Rg==\n",
      "lisec.test/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg\n",
      "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
      "lisec.test/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n",
      "lisec.test/audit\n8\n",
  };
  for (size_t i = 0; i < LISEC_ARRAY_LEN(bodies); i++)
    assert_int_equal(audit_checkpoint_parse(bodies[i], strlen(bodies[i]), &got, &err), LISEC_EINVAL);
  const char *ext = "lisec.test/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\nextension line\n";
  assert_int_equal(audit_checkpoint_parse(ext, strlen(ext), &got, &err), 0);
  char *huge = calloc(1, AUDIT_NOTE_MAX + 2);
  memset(huge, 'a', AUDIT_NOTE_MAX + 1);
  assert_int_equal(audit_note_open(huge, AUDIT_NOTE_MAX + 1, &k, &got, &err), LISEC_ETOOBIG);
  free(huge);
  /* More signature lines than the bound. */
  char many[4096];
  int off = snprintf(many, sizeof many, "lisec.test/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n");
  for (int i = 0; i < 20; i++)
    off += snprintf(many + off, sizeof many - (size_t)off, "\xe2\x80\x94 w%d AAAAAAAAAAAAAAAA\n", i);
  assert_int_equal(audit_note_open(many, (size_t)off, &k, &got, &err), LISEC_EINVAL);
}

/* ---- whole-log verification --------------------------------------------- */

#define LOG_N 100

typedef struct mem_log {
  uint8_t *data[LOG_N];
  size_t len[LOG_N];
  uint8_t leaf[LOG_N][AUDIT_HASH_LEN];
  uint64_t idx[LOG_N];
  size_t n;
  char *notes[8];
  uint64_t note_size[8];
  size_t n_notes;
} mem_log;

static void mem_log_build(mem_log *l, sodium_signer *s, const audit_vkey *k, const uint8_t li_pk[32]) {
  memset(l, 0, sizeof *l);
  lisec_err err = {0};
  audit_frontier f;
  audit_frontier_init(&f);
  for (uint64_t i = 0; i < LOG_N; i++) {
    audit_record r = sample_record();
    r.seq = i;
    r.li = i % 7 == 3;
    uint8_t *plain = NULL;
    size_t plen = 0;
    assert_int_equal(audit_entry_encode(&r, &plain, &plen, &err), 0);
    if (r.li) {
      assert_int_equal(audit_entry_seal(plain, plen, li_pk, &l->data[i], &l->len[i], &err), 0);
      free(plain);
    } else {
      l->data[i] = plain;
      l->len[i] = plen;
    }
    audit_hash_leaf(l->data[i], l->len[i], l->leaf[i]);
    l->idx[i] = i;
    audit_frontier_append(&f, l->leaf[i], &err);
    if (i + 1 == 30 || i + 1 == 64 || i + 1 == LOG_N) {
      audit_checkpoint cp = {.origin = "lisec.test/audit", .size = i + 1};
      audit_frontier_root(&f, cp.root);
      assert_int_equal(audit_note_sign(&cp, k, sodium_sign, s, &l->notes[l->n_notes], &err), 0);
      l->note_size[l->n_notes++] = i + 1;
    }
  }
  l->n = LOG_N;
}

/* Sealing is randomised, so every scenario starts from a copy of one log. */
static void mem_log_copy(mem_log *dst, const mem_log *src) {
  *dst = *src;
  for (size_t i = 0; i < LOG_N; i++) {
    dst->data[i] = malloc(src->len[i]);
    memcpy(dst->data[i], src->data[i], src->len[i]);
  }
  for (size_t i = 0; i < src->n_notes; i++) dst->notes[i] = strdup(src->notes[i]);
}

static void mem_log_free(mem_log *l) {
  for (size_t i = 0; i < LOG_N; i++) free(l->data[i]);
  for (size_t i = 0; i < l->n_notes; i++) free(l->notes[i]);
}

/* Verifies l; returns the number of findings, and whether any contains needle. */
static uint64_t verify_log(const mem_log *l, const audit_vkey *k, const audit_checkpoint *seen,
                           const char *needle, bool *found, audit_verify_summary *sum) {
  audit_verifier *v = NULL;
  lisec_err err = {0};
  assert_int_equal(audit_verifier_new(k, seen, &v, &err), 0);
  for (size_t i = 0; i < l->n_notes; i++)
    if (l->notes[i])
      assert_int_equal(audit_verifier_add_checkpoint(v, l->note_size[i], l->notes[i], strlen(l->notes[i])), 0);
  for (size_t i = 0; i < l->n; i++)
    if (l->data[i]) assert_int_equal(audit_verifier_add_entry(v, l->idx[i], l->data[i], l->len[i], l->leaf[i], NULL), 0);
  audit_verifier_finish(v, sum);
  *found = false;
  const char *f;
  for (size_t i = 0; (f = audit_verifier_finding(v, i)); i++)
  {
    if (getenv("AUDIT_TEST_VERBOSE")) fprintf(stderr, "finding: %s\n", f);
    if (needle && strstr(f, needle)) *found = true;
  }
  uint64_t n = sum->findings;
  audit_verifier_free(v);
  return n;
}

/* Checkpoint key rollover (issue 21 item 5): the checkpoint at 64 hands the
 * log from k to k2, signed by both; the one at 100 carries k2 alone. */
static char *rollover_note(const mem_log *l, size_t i, sodium_signer *s, const audit_vkey *k,
                           sodium_signer *s2, const audit_vkey *k2) {
  lisec_err err = {0};
  audit_checkpoint cp;
  char *note = NULL;
  size_t text_len = 0;
  assert_int_equal(audit_note_verify(l->notes[i], strlen(l->notes[i]), k, &text_len, &err), 0);
  assert_int_equal(audit_checkpoint_parse(l->notes[i], text_len, &cp, &err), 0);
  assert_int_equal(audit_note_sign_rollover(&cp, k, sodium_sign, s, k2, sodium_sign, s2, &note, &err), 0);
  return note;
}

/* note without its signature line number which (0 = the first). */
static char *drop_signature(const char *note, int which) {
  const char *sigs = strstr(note, "\n\n") + 2, *line = sigs;
  for (int i = 0; i < which; i++) line = strchr(line, '\n') + 1;
  const char *next = strchr(line, '\n') + 1;
  char *out = NULL;
  assert_true(asprintf(&out, "%.*s%s", (int)(line - note), note, next) > 0);
  return out;
}

static void test_key_rollover(void **state) {
  (void)state;
  lisec_err err = {0};
  sodium_signer s, s2;
  audit_vkey k, k2, cur;
  uint8_t pk[32], li_pk[32], li_sk[32];
  memset(&s, 0, sizeof s);
  memset(&s2, 0, sizeof s2);
  crypto_sign_keypair(pk, s.sk);
  assert_int_equal(audit_vkey_make("lisec.test/audit", pk, &k, &err), 0);
  crypto_sign_keypair(pk, s2.sk);
  assert_int_equal(audit_vkey_make("lisec.test/audit", pk, &k2, &err), 0);
  assert_int_equal(audit_li_keygen(li_pk, li_sk, &err), 0);
  mem_log master, l;
  mem_log_build(&master, &s, &k, li_pk);
  char *ro = rollover_note(&master, 1, &s, &k, &s2, &k2);
  audit_rollover found_ro;
  bool has = false, found = false;
  assert_int_equal(audit_rollover_find(ro, strlen(ro), &found_ro, &has, &err), 0);
  assert_true(has);
  assert_true(audit_vkey_equal(&found_ro.old_key, &k) && audit_vkey_equal(&found_ro.new_key, &k2));
  /* The rollover note is still a C2SP checkpoint for a verifier that knows only k. */
  audit_checkpoint got;
  assert_int_equal(audit_note_open(ro, strlen(ro), &k, &got, &err), 0);
  assert_int_equal(got.size, 64);
  /* A rollover to the same key is refused when signing. */
  char *same = NULL;
  assert_int_equal(audit_note_sign_rollover(&got, &k, sodium_sign, &s, &k, sodium_sign, &s, &same, &err), LISEC_EINVAL);

  mem_log_copy(&l, &master);
  free(l.notes[1]);
  l.notes[1] = ro;
  audit_checkpoint cp100;
  size_t tl = 0;
  assert_int_equal(audit_note_verify(l.notes[2], strlen(l.notes[2]), &k, &tl, &err), 0);
  assert_int_equal(audit_checkpoint_parse(l.notes[2], tl, &cp100, &err), 0);
  free(l.notes[2]);
  assert_int_equal(audit_note_sign(&cp100, &k2, sodium_sign, &s2, &l.notes[2], &err), 0);

  /* Pinned to the old key: follows the rollover once. */
  audit_verify_summary sum;
  assert_int_equal(verify_log(&l, &k, NULL, NULL, &found, &sum), 0);
  assert_int_equal(sum.checkpoints_ok, 3);
  assert_int_equal(sum.newest.size, LOG_N);
  audit_verifier *v = NULL;
  assert_int_equal(audit_verifier_new(&k, NULL, &v, &err), 0);
  for (size_t i = 0; i < l.n_notes; i++)
    assert_int_equal(audit_verifier_add_checkpoint(v, l.note_size[i], l.notes[i], strlen(l.notes[i])), 0);
  audit_verifier_finish(v, &sum);
  audit_verifier_current_key(v, &cur);
  assert_true(audit_vkey_equal(&cur, &k2));
  audit_verifier_free(v);
  /* Pinned to the new key: the rollover it signed vouches for the checkpoints before. */
  assert_int_equal(verify_log(&l, &k2, NULL, NULL, &found, &sum), 0);
  assert_int_equal(sum.checkpoints_ok, 3);

  /* A rollover signed by the new key alone: refused, the old key stays in
   * force, and the checkpoint after it (k2's) does not verify. */
  l.notes[1] = drop_signature(ro, 0);
  assert_true(verify_log(&l, &k, NULL, "checkpoint filed at size 64", &found, &sum) >= 2);
  assert_true(found);
  free(l.notes[1]);
  /* A rollover missing the new key's signature: refused, named. */
  l.notes[1] = drop_signature(ro, 1);
  assert_true(verify_log(&l, &k, NULL, "not signed by the new key", &found, &sum) >= 1);
  assert_true(found);
  assert_true(verify_log(&l, &k2, NULL, "not signed by the new key", &found, &sum) >= 1);
  assert_true(found);
  free(l.notes[1]);
  /* A malformed rollover line is a finding, not a crash. */
  l.notes[1] = strdup(ro);
  char *line = strstr(l.notes[1], "lisec-key-rollover ");
  line[19] = '!';
  assert_true(verify_log(&l, &k, NULL, "checkpoint filed at size 64", &found, &sum) >= 1);
  assert_true(found);
  free(l.notes[1]);
  l.notes[1] = ro; /* freed with the log */
  mem_log_free(&l);
  mem_log_free(&master);
}

/* A restore from a backup (issue 21 item 4): the backup held the first 64
 * entries and the checkpoint at 64; the restored log grew to 80 and its
 * first checkpoint says it was restored from 64. An auditor who saw 100
 * before gets a notice, not a rollback; without the signed line it is one. */
static void test_restore_line(void **state) {
  (void)state;
  lisec_err err = {0};
  sodium_signer s;
  audit_vkey k;
  uint8_t pk[32], li_pk[32], li_sk[32];
  memset(&s, 0, sizeof s);
  crypto_sign_keypair(pk, s.sk);
  assert_int_equal(audit_vkey_make("lisec.test/audit", pk, &k, &err), 0);
  assert_int_equal(audit_li_keygen(li_pk, li_sk, &err), 0);
  mem_log master, l;
  mem_log_build(&master, &s, &k, li_pk);
  audit_checkpoint seen, at64, at80 = {.origin = "lisec.test/audit", .size = 80};
  assert_int_equal(audit_note_open(master.notes[2], strlen(master.notes[2]), &k, &seen, &err), 0);
  assert_int_equal(audit_note_open(master.notes[1], strlen(master.notes[1]), &k, &at64, &err), 0);
  audit_frontier f;
  audit_frontier_init(&f);
  for (size_t i = 0; i < 80; i++) audit_frontier_append(&f, master.leaf[i], &err);
  audit_frontier_root(&f, at80.root);

  mem_log_copy(&l, &master);
  l.n = 80;
  free(l.notes[2]);
  assert_int_equal(audit_note_sign(&at80, &k, sodium_sign, &s, &l.notes[2], &err), 0);
  l.note_size[2] = 80;
  audit_verify_summary sum;
  bool found = false;
  /* A plain older copy extended: the auditor who saw 100 calls it a rollback. */
  assert_true(verify_log(&l, &k, &seen, "rolled back", &found, &sum) >= 1);
  assert_true(found);

  /* The same log whose checkpoint at 80 records the restore from 64. */
  free(l.notes[2]);
  assert_int_equal(audit_note_sign_restore(&at80, &at64, &k, sodium_sign, &s, &l.notes[2], &err), 0);
  audit_checkpoint from;
  bool has = false;
  assert_int_equal(audit_restore_find(l.notes[2], strlen(l.notes[2]), &from, &has, &err), 0);
  assert_true(has);
  assert_int_equal(from.size, 64);
  assert_memory_equal(from.root, at64.root, 32);
  assert_int_equal(verify_log(&l, &k, &seen, NULL, &found, &sum), 0);
  assert_int_equal(sum.restores, 1);
  assert_int_equal(sum.restored_from, 64);
  assert_true(sum.seen_replaced);
  assert_int_equal(sum.newest.size, 80);
  /* An auditor who saw only 30 is not affected. */
  audit_checkpoint seen30;
  assert_int_equal(audit_note_open(l.notes[0], strlen(l.notes[0]), &k, &seen30, &err), 0);
  assert_int_equal(verify_log(&l, &k, &seen30, NULL, &found, &sum), 0);
  assert_false(sum.seen_replaced);

  /* A restore line naming a root the log's first 64 entries do not have. */
  audit_checkpoint wrong = at64;
  wrong.root[0] ^= 1;
  free(l.notes[2]);
  assert_int_equal(audit_note_sign_restore(&at80, &wrong, &k, sodium_sign, &s, &l.notes[2], &err), 0);
  assert_true(verify_log(&l, &k, &seen, "restored from something else", &found, &sum) >= 1);
  assert_true(found);
  /* Restored from beyond the checkpoint that says so: refused when signing. */
  char *bad = NULL;
  audit_checkpoint beyond = at64;
  beyond.size = 81;
  assert_int_equal(audit_note_sign_restore(&at80, &beyond, &k, sodium_sign, &s, &bad, &err), LISEC_EINVAL);
  mem_log_free(&l);
  mem_log_free(&master);
}

/* A restore that happened before the checkpoint this auditor saw is part of
 * the history it saw: it cannot explain a departure from it. The log was
 * restored from the backup's checkpoint at 30 (signed at 64), grew to 100,
 * and this auditor verified it at 100. Whoever holds the database (no key)
 * then truncates it to 90, or changes entry 80, and deletes the checkpoint
 * at 100: before the fix the old restore excused both (exit 0, "the later
 * history this auditor saw was replaced by it"). */
static uint64_t verify_log_known(const mem_log *l, const audit_vkey *k, const audit_checkpoint *seen,
                                 const audit_checkpoint *known, size_t n_known, const char *needle, bool *found,
                                 audit_verify_summary *sum) {
  audit_verifier *v = NULL;
  lisec_err err = {0};
  assert_int_equal(audit_verifier_new(k, seen, &v, &err), 0);
  for (size_t i = 0; i < n_known; i++) assert_int_equal(audit_verifier_add_known_restore(v, &known[i]), 0);
  for (size_t i = 0; i < l->n_notes; i++)
    if (l->notes[i])
      assert_int_equal(audit_verifier_add_checkpoint(v, l->note_size[i], l->notes[i], strlen(l->notes[i])), 0);
  for (size_t i = 0; i < l->n; i++)
    if (l->data[i]) assert_int_equal(audit_verifier_add_entry(v, l->idx[i], l->data[i], l->len[i], l->leaf[i], NULL), 0);
  audit_verifier_finish(v, sum);
  *found = false;
  const char *f;
  for (size_t i = 0; (f = audit_verifier_finding(v, i)); i++) {
    if (getenv("AUDIT_TEST_VERBOSE")) fprintf(stderr, "finding: %s\n", f);
    if (needle && strstr(f, needle)) *found = true;
  }
  audit_verifier_free(v);
  return sum->findings;
}

static void test_restore_seen_before(void **state) {
  (void)state;
  lisec_err err = {0};
  sodium_signer s;
  audit_vkey k;
  uint8_t pk[32], li_pk[32], li_sk[32];
  memset(&s, 0, sizeof s);
  crypto_sign_keypair(pk, s.sk);
  assert_int_equal(audit_vkey_make("lisec.test/audit", pk, &k, &err), 0);
  assert_int_equal(audit_li_keygen(li_pk, li_sk, &err), 0);
  mem_log master, l;
  mem_log_build(&master, &s, &k, li_pk);
  audit_checkpoint at30, at64, at100;
  assert_int_equal(audit_note_open(master.notes[0], strlen(master.notes[0]), &k, &at30, &err), 0);
  assert_int_equal(audit_note_open(master.notes[1], strlen(master.notes[1]), &k, &at64, &err), 0);
  assert_int_equal(audit_note_open(master.notes[2], strlen(master.notes[2]), &k, &at100, &err), 0);
  free(master.notes[1]);
  assert_int_equal(audit_note_sign_restore(&at64, &at30, &k, sodium_sign, &s, &master.notes[1], &err), 0);

  /* The auditor's run at 100: intact, and it learns the restore at 64. */
  audit_verifier *v = NULL;
  audit_verify_summary sum;
  bool found = false;
  assert_int_equal(audit_verifier_new(&k, NULL, &v, &err), 0);
  for (size_t i = 0; i < master.n_notes; i++)
    assert_int_equal(audit_verifier_add_checkpoint(v, master.note_size[i], master.notes[i], strlen(master.notes[i])), 0);
  for (size_t i = 0; i < master.n; i++)
    assert_int_equal(audit_verifier_add_entry(v, i, master.data[i], master.len[i], master.leaf[i], NULL), 0);
  audit_verifier_finish(v, &sum);
  assert_int_equal(sum.findings, 0);
  assert_int_equal(sum.restores, 1);
  audit_checkpoint known[2];
  assert_true(audit_verifier_restore(v, 0, &known[0]));
  assert_false(audit_verifier_restore(v, 1, &known[1]));
  assert_int_equal(known[0].size, 64);
  assert_memory_equal(known[0].root, at64.root, 32);
  audit_verifier_free(v);
  /* The same log again: intact, nothing replaced. */
  assert_int_equal(verify_log_known(&master, &k, &at100, known, 1, NULL, &found, &sum), 0);
  assert_false(sum.seen_replaced);

  /* Truncated to 90, the checkpoint at 100 deleted. */
  mem_log_copy(&l, &master);
  free(l.notes[2]);
  l.notes[2] = NULL;
  l.n = 90;
  assert_true(verify_log_known(&l, &k, &at100, known, 1, "rolled back", &found, &sum) >= 1);
  assert_true(found);
  assert_false(sum.seen_replaced);
  /* Nothing changed but the checkpoint at 100 deleted, with a state that
   * lists no restore (written before restores were kept): the restore at
   * 64 cannot have replaced a root at 100 that is still the log's. */
  l.n = LOG_N;
  assert_true(verify_log_known(&l, &k, &at100, NULL, 0, "checkpoints were removed", &found, &sum) >= 1);
  assert_true(found);
  /* Entry 80 changed with its leaf hash, the checkpoint at 100 deleted. */
  l.n = LOG_N;
  l.data[80][25] ^= 1;
  audit_hash_leaf(l.data[80], l.len[80], l.leaf[80]);
  assert_true(verify_log_known(&l, &k, &at100, known, 1, "history was rewritten", &found, &sum) >= 1);
  assert_true(found);
  assert_false(sum.seen_replaced);
  mem_log_free(&l);

  /* A restore made after the auditor's run still replaces what it saw:
   * the backup at 30 restored again, its checkpoint at 64 signed anew over
   * other entries (here: entry 40 differs). */
  mem_log_copy(&l, &master);
  l.data[40][25] ^= 1;
  audit_hash_leaf(l.data[40], l.len[40], l.leaf[40]);
  audit_frontier f;
  audit_frontier_init(&f);
  for (size_t i = 0; i < 64; i++) audit_frontier_append(&f, l.leaf[i], &err);
  audit_checkpoint again = at64;
  audit_frontier_root(&f, again.root);
  free(l.notes[1]);
  assert_int_equal(audit_note_sign_restore(&again, &at30, &k, sodium_sign, &s, &l.notes[1], &err), 0);
  free(l.notes[2]);
  l.notes[2] = NULL;
  assert_int_equal(verify_log_known(&l, &k, &at100, known, 1, NULL, &found, &sum), 0);
  assert_true(sum.seen_replaced);
  mem_log_free(&l);
  mem_log_free(&master);
}

static void test_log_verifier(void **state) {
  (void)state;
  lisec_err err = {0};
  sodium_signer s, forger;
  audit_vkey k, kf;
  uint8_t pk[32], li_pk[32], li_sk[32];
  memset(&s, 0, sizeof s);
  memset(&forger, 0, sizeof forger);
  crypto_sign_keypair(pk, s.sk);
  assert_int_equal(audit_vkey_make("lisec.test/audit", pk, &k, &err), 0);
  crypto_sign_keypair(pk, forger.sk);
  assert_int_equal(audit_vkey_make("lisec.test/audit", pk, &kf, &err), 0);
  assert_int_equal(audit_li_keygen(li_pk, li_sk, &err), 0);
  mem_log master, l;
  mem_log_build(&master, &s, &k, li_pk);
  audit_verify_summary sum;
  bool found;

  /* Intact. */
  mem_log_copy(&l, &master);
  assert_int_equal(verify_log(&l, &k, NULL, NULL, &found, &sum), 0);
  assert_int_equal(sum.entries, LOG_N);
  assert_int_equal(sum.sealed, 14);
  assert_int_equal(sum.checkpoints_ok, 3);
  assert_true(sum.have_newest);
  assert_int_equal(sum.newest.size, LOG_N);
  audit_checkpoint seen = sum.newest, seen30;
  assert_int_equal(audit_note_open(l.notes[0], strlen(l.notes[0]), &k, &seen30, &err), 0);

  /* The store's sealed flag is not hashed: one that disagrees with the
   * data is named (a sealed LI entry listed as plain, a plain one as sealed). */
  {
    audit_verifier *v = NULL;
    assert_int_equal(audit_verifier_new(&k, NULL, &v, &err), 0);
    for (size_t i = 0; i < l.n_notes; i++)
      assert_int_equal(audit_verifier_add_checkpoint(v, l.note_size[i], l.notes[i], strlen(l.notes[i])), 0);
    for (size_t i = 0; i < l.n; i++) {
      assert_int_equal(audit_verifier_add_entry(v, i, l.data[i], l.len[i], l.leaf[i], NULL), 0);
      bool flag = l.data[i][0] == AUDIT_ENTRY_SEALED;
      if (i == 3 || i == 4) flag = !flag; /* 3 is sealed (i % 7 == 3), 4 plain */
      audit_verifier_sealed_flag(v, i, flag, l.data[i], l.len[i]);
    }
    audit_verifier_finish(v, &sum);
    assert_int_equal(sum.findings, 2);
    assert_non_null(strstr(audit_verifier_finding(v, 0), "entry 3: stored as not sealed but its data is sealed"));
    assert_non_null(strstr(audit_verifier_finding(v, 1), "entry 4: stored as sealed but its data is a plain record"));
    audit_verifier_free(v);
  }

  /* Changed entry, stored leaf hash left alone: named exactly. */
  l.data[41][25] ^= 1;
  assert_true(verify_log(&l, &k, NULL, "entry 41: its data does not match", &found, &sum) >= 1);
  assert_true(found);
  /* ... and with the stored hash forged too: the checkpoint after it fails. */
  audit_hash_leaf(l.data[41], l.len[41], l.leaf[41]);
  verify_log(&l, &k, NULL, "checkpoint at size 64: the recomputed root differs", &found, &sum);
  assert_true(found);
  assert_int_equal(sum.newest.size, 30);
  mem_log_free(&l);

  /* Deleted entry: a gap in the indices, named exactly and alone (issue
   * 14 item 20: it was also called a truncation of the last entry, and the
   * checkpoint after it a changed root), with or without the auditor's
   * state. */
  mem_log_copy(&l, &master);
  free(l.data[50]);
  l.data[50] = NULL;
  assert_int_equal(verify_log(&l, &k, NULL, "entries 50..50 are missing (deleted)", &found, &sum), 1);
  assert_true(found);
  assert_int_equal(verify_log(&l, &k, &seen, "entries 50..50 are missing (deleted)", &found, &sum), 1);
  assert_true(found);
  /* ... and the tail truncated as well: two findings, each its own. */
  size_t n_full = l.n;
  l.n = 90;
  assert_int_equal(verify_log(&l, &k, NULL, "entries 50..50 are missing (deleted)", &found, &sum), 2);
  assert_true(found);
  verify_log(&l, &k, NULL, "checkpoint at size 100 is signed but the log holds only 90 entries: entries 90..99 were removed (truncated)", &found, &sum);
  assert_true(found);
  l.n = n_full;
  /* ... and renumbered to hide the gap: sequence numbers give it away, and
   * the last entry still says it is entry 99, so nothing was truncated. */
  for (size_t i = 51; i < LOG_N; i++) l.idx[i] = i - 1;
  verify_log(&l, &k, NULL, "entry 50: it says it is entry 51", &found, &sum);
  assert_true(found);
  verify_log(&l, &k, &seen, "truncated", &found, &sum);
  assert_false(found);
  verify_log(&l, &k, &seen, "removed (", &found, &sum);
  assert_false(found);
  mem_log_free(&l);

  /* Reordered entries. */
  mem_log_copy(&l, &master);
  uint8_t *tmp = l.data[10];
  size_t tl = l.len[10];
  uint8_t th[AUDIT_HASH_LEN];
  memcpy(th, l.leaf[10], AUDIT_HASH_LEN);
  l.data[10] = l.data[11];
  l.len[10] = l.len[11];
  memcpy(l.leaf[10], l.leaf[11], AUDIT_HASH_LEN);
  l.data[11] = tmp;
  l.len[11] = tl;
  memcpy(l.leaf[11], th, AUDIT_HASH_LEN);
  verify_log(&l, &k, NULL, "entry 10: it says it is entry 11", &found, &sum);
  assert_true(found);
  verify_log(&l, &k, NULL, "checkpoint at size 30: the recomputed root differs", &found, &sum);
  assert_true(found);
  mem_log_free(&l);

  /* Truncated: the signed size is beyond the end. */
  mem_log_copy(&l, &master);
  l.n = 90;
  verify_log(&l, &k, NULL, "checkpoint at size 100 is signed but the log holds only 90 entries", &found, &sum);
  assert_true(found);
  /* ... with the last checkpoint deleted too: only the auditor's memory helps. */
  free(l.notes[2]);
  l.notes[2] = NULL;
  assert_int_equal(verify_log(&l, &k, NULL, NULL, &found, &sum), 0);
  verify_log(&l, &k, &seen, "this auditor saw a checkpoint at size 100", &found, &sum);
  assert_true(found);
  mem_log_free(&l);

  /* Rollback: an older backup (first 64 entries, two checkpoints). */
  mem_log_copy(&l, &master);
  l.n = 64;
  free(l.notes[2]);
  l.notes[2] = NULL;
  verify_log(&l, &k, &seen, "rolled back", &found, &sum);
  assert_true(found);
  /* An auditor who saw only size 30 finds the backup consistent. */
  assert_int_equal(verify_log(&l, &k, &seen30, NULL, &found, &sum), 0);
  mem_log_free(&l);

  /* Forged checkpoint: another key, and a moved one. */
  mem_log_copy(&l, &master);
  audit_checkpoint fake = {.origin = "lisec.test/audit", .size = 64};
  memset(fake.root, 0x5a, 32);
  free(l.notes[1]);
  assert_int_equal(audit_note_sign(&fake, &kf, sodium_sign, &forger, &l.notes[1], &err), 0);
  verify_log(&l, &k, NULL, "checkpoint filed at size 64: note is not signed by", &found, &sum);
  assert_true(found);
  free(l.notes[1]);
  l.notes[1] = strdup(l.notes[0]);
  verify_log(&l, &k, NULL, "checkpoint filed at size 64 is signed for size 30", &found, &sum);
  assert_true(found);
  mem_log_free(&l);

  /* No checkpoint at all vouches for nothing. */
  mem_log_copy(&l, &master);
  for (size_t i = 0; i < l.n_notes; i++) {
    free(l.notes[i]);
    l.notes[i] = NULL;
  }
  verify_log(&l, &k, NULL, "no valid signed checkpoint", &found, &sum);
  assert_true(found);
  /* A log that never had a checkpoint is accepted by the appender's load
   * (allow_unsigned), but not one whose checkpoints are all bad. */
  audit_verifier *v = NULL;
  assert_int_equal(audit_verifier_new(&k, NULL, &v, &err), 0);
  audit_verifier_allow_unsigned(v);
  for (size_t i = 0; i < l.n; i++)
    assert_int_equal(audit_verifier_add_entry(v, l.idx[i], l.data[i], l.len[i], l.leaf[i], NULL), 0);
  audit_verifier_finish(v, &sum);
  assert_int_equal(sum.findings, 0);
  assert_int_equal(sum.unsigned_tail, LOG_N);
  audit_verifier_free(v);
  assert_int_equal(audit_verifier_new(&k, NULL, &v, &err), 0);
  audit_verifier_allow_unsigned(v);
  assert_int_equal(audit_verifier_add_checkpoint(v, 30, "garbage", 7), 0);
  for (size_t i = 0; i < l.n; i++)
    assert_int_equal(audit_verifier_add_entry(v, l.idx[i], l.data[i], l.len[i], l.leaf[i], NULL), 0);
  audit_verifier_finish(v, &sum);
  assert_int_equal(sum.findings, 2);
  audit_verifier_free(v);
  mem_log_free(&l);

  /* An LI record stored in clear is itself a finding. */
  mem_log_copy(&l, &master);
  audit_record r = sample_record();
  r.seq = 5;
  r.li = true;
  free(l.data[5]);
  assert_int_equal(audit_entry_encode(&r, &l.data[5], &l.len[5], &err), 0);
  audit_hash_leaf(l.data[5], l.len[5], l.leaf[5]);
  verify_log(&l, &k, NULL, "entry 5: an LI record stored unsealed", &found, &sum);
  assert_true(found);
  mem_log_free(&l);
  mem_log_free(&master);
}

/* The leaf index (a proof asked by hash): every entry is found at its own
 * index across several growths of the table (and while one is moving), an
 * entry at or beyond `below` is not, an unknown hash has no candidate, and
 * entries sharing the 4 bytes the index keeps are all returned, in index
 * order, for the caller to confirm (and the count says when room ran out). */
static void test_leaf_index(void **state) {
  (void)state;
  audit_leaf_index *x = NULL;
  lisec_err err = {0};
  assert_int_equal(audit_leaf_index_new(&x, &err), 0);
  enum { N = 40000 }; /* ten doublings of the first 4096-slot table */
  uint8_t (*leaf)[32] = calloc(N, 32);
  assert_non_null(leaf);
  for (uint32_t i = 0; i < N; i++) {
    uint8_t in[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
    audit_hash_leaf(in, sizeof in, leaf[i]);
    if (i == N - 3) memcpy(leaf[i], leaf[7], 4); /* shares entry 7's prefix */
    assert_int_equal(audit_leaf_index_add(x, leaf[i], &err), 0);
    if (i % 997 == 0 || i + 1 == N) /* found while the table grows */
      for (uint32_t j = 0; j <= i; j += 1 + i / 7) {
        uint64_t got[4];
        size_t n = audit_leaf_index_find(x, leaf[j], UINT64_MAX, got, 4);
        assert_true(n >= 1);
        bool hit = false;
        for (size_t k = 0; k < n; k++) hit = hit || got[k] == j;
        assert_true(hit);
      }
  }
  assert_int_equal(audit_leaf_index_size(x), N);
  assert_true(audit_leaf_index_memory(x) >= (size_t)N * 8);
  uint64_t got[4];
  /* first, middle, last: exactly one candidate each */
  assert_int_equal(audit_leaf_index_find(x, leaf[0], UINT64_MAX, got, 4), 1);
  assert_int_equal(got[0], 0);
  assert_int_equal(audit_leaf_index_find(x, leaf[N / 2], UINT64_MAX, got, 4), 1);
  assert_int_equal(got[0], N / 2);
  assert_int_equal(audit_leaf_index_find(x, leaf[N - 1], UINT64_MAX, got, 4), 1);
  assert_int_equal(got[0], N - 1);
  /* below: the last entry is not in the tree of N - 1 entries */
  assert_int_equal(audit_leaf_index_find(x, leaf[N - 1], N - 1, got, 4), 0);
  assert_int_equal(audit_leaf_index_find(x, leaf[N / 2], N / 2 + 1, got, 4), 1);
  /* unknown */
  uint8_t unknown[32];
  audit_hash_leaf("nowhere", 7, unknown);
  assert_int_equal(audit_leaf_index_find(x, unknown, UINT64_MAX, got, 4), 0);
  /* two entries with one prefix: both, in index order; room for one says 1 */
  assert_int_equal(audit_leaf_index_find(x, leaf[7], UINT64_MAX, got, 4), 2);
  assert_int_equal(got[0], 7);
  assert_int_equal(got[1], N - 3);
  assert_int_equal(audit_leaf_index_find(x, leaf[7], 8, got, 4), 1);
  assert_int_equal(audit_leaf_index_find(x, leaf[7], UINT64_MAX, got, 1), 1);
  free(leaf);
  audit_leaf_index_free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roots_classic),
      cmocka_unit_test(test_inclusion_classic),
      cmocka_unit_test(test_consistency_classic),
      cmocka_unit_test(test_tree_compact_matches_definition),
      cmocka_unit_test(test_frontier_text),
      cmocka_unit_test(test_entry_format),
      cmocka_unit_test(test_entry_sealing),
      cmocka_unit_test(test_note_go_vector),
      cmocka_unit_test(test_checkpoint_notes),
      cmocka_unit_test(test_log_verifier),
      cmocka_unit_test(test_key_rollover),
      cmocka_unit_test(test_restore_line),
      cmocka_unit_test(test_restore_seen_before),
      cmocka_unit_test(test_leaf_index),
  };
  if (sodium_init() < 0) return 1;
  return cmocka_run_group_tests(tests, setup_classic, NULL);
}
