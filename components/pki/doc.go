// Package pki is kubelab's certificate authority and kubeconfig writer: what Kubernetes the Hard Way
// does with openssl and `kubectl config`, as a Go library used by the kubelab CLI, the quickstart
// (`kubelab up`) and the tests.
//
// Every connection in a cluster is mutual TLS signed by one cluster CA:
//
//	NewCA ──> ca.crt + ca.key ──Issue(CertSpec)──> admin.crt     (CN=admin, O=system:masters)  client
//	                                           ├─> kubernetes.crt (DNS/IP SANs of the apiserver)  server
//	                                           └─> node-0.crt    (CN=system:node:node-0, O=system:nodes)
//
//	Kubeconfig{Server, CAPEM, client cert+key} ──Write/Merge──> ~/.kube/config ──> kubectl, client-go
//
// The apiserver trusts a client whose certificate chains to the CA and reads its identity from the
// certificate itself: Subject CommonName is the user name, each Organization a group (see
// components/apiserver/authn). That is why CertSpec has Organizations and nothing like "roles".
//
// Choices, and why:
//   - ECDSA P-256 keys: generating them is instant (RSA-2048 takes tens of milliseconds per key, which
//     adds up in tests) and every TLS stack, kubectl and openssl included, accepts them.
//   - Keys are written as "EC PRIVATE KEY" PEM, the format Kubernetes' own keyutil writes, so
//     `openssl ec -in ca.key -noout -text` shows it. LoadCA also reads PKCS#1 and PKCS#8 keys, so a CA
//     made by openssl the hard way works too.
//   - Serial numbers are random 128-bit numbers: serials must be unique per CA, and randomness is the
//     way to get that without keeping a counter on disk.
//   - NotBefore is a minute in the past, so a certificate is valid at once on a machine whose clock is
//     a little behind the one that issued it (common with freshly booted VMs).
//   - Kubeconfigs embed credentials (certificate-authority-data, client-certificate-data, …) rather
//     than pointing at files, so one file can be copied to another machine and still work.
package pki
