// Package defaults fills in the fields a real Kubernetes API server sets on
// objects the user left out, so that `kubectl get -o yaml` and
// `kubectl describe` on kubelab show the same objects a real cluster shows.
//
// Where it sits: inside the kube-apiserver box, in the registry's write path.
//
//	request body ─▶ rest: decode into a typed k8s.io/api object
//	             ─▶ registry: PrepareCreate hook (pod phase, namespace finalizer)
//	             ─▶ defaults.Apply(obj)            ◀── this package
//	             ─▶ validation.Create / Update     (422 with field paths on error)
//	             ─▶ admission hooks (IP allocator) ─▶ etcd
//
// Why defaulting is a separate step before validation: validation can then
// insist on fields being set (a pod's restartPolicy, a Service port's
// protocol) without every client having to send them. Upstream Kubernetes
// spreads the same work over four places, and this package gathers them,
// each function saying where its upstream counterpart lives:
//
//   - SetDefaults_* functions (k8s.io/kubernetes pkg/apis/<group>/v1/defaults.go),
//     and the "+default=" markers in k8s.io/api's types;
//   - conversion quirks between the v1 and internal types (a Secret's
//     stringData merged into data, podIP mirrored into podIPs);
//   - registry strategies (a Job's generated selector, a Namespace's
//     "kubernetes" finalizer);
//   - admission plugins that mutate every pod (ServiceAccount, Priority) —
//     kubelab has no such plugins, but what they add is what users see, so
//     it lives here. (DefaultTolerationSeconds is a real plugin now: the
//     pods' PrepareCreate hook in apiserver/admission_tolerations.go, since
//     its values come from flags.)
//
// Everything Apply does is idempotent: running it twice changes nothing, which
// matters because the registry defaults on every update too.
package defaults
