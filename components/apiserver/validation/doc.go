// Package validation decides whether an object may be stored, and if not,
// says exactly which field is wrong and why, in the words a real Kubernetes
// API server uses.
//
// Where it sits: inside the kube-apiserver box, in the registry's write path,
// right after defaulting.
//
//	decode ─▶ defaults.Apply ─▶ validation.Create / validation.Update ─▶ admission ─▶ etcd
//	                                      │
//	                                      └─ field.ErrorList ─▶ registry: 422
//	                                         apierrors.NewInvalid(kind, name, errs)
//
// Each error carries a field path (spec.containers[0].image), a type
// (Required value, Invalid value, Unsupported value, Forbidden, ...) and a
// detail. kubectl prints them as-is:
//
//	The Deployment "web" is invalid: spec.template.metadata.labels: Invalid value:
//	map[string]string{"app":"api"}: `selector` does not match template `labels`
//
// so the paths and details here follow upstream's validators
// (k8s.io/kubernetes pkg/apis/<group>/validation/validation.go) and reuse the
// field's libraries (k8s.io/apimachinery/pkg/api/validation,
// pkg/util/validation, pkg/apis/meta/v1/validation) for the building blocks:
// DNS names, label keys and values, label selectors, port numbers.
//
// Validation runs on defaulted objects, so it can insist on fields defaulting
// fills in (restartPolicy, a port's protocol): if those are missing, the
// caller forgot to default. It never panics: every pointer in a user's object
// may be nil.
//
// Files: validation.go dispatches on the Go type; meta.go holds metadata and
// name rules, rules.go the small shared checks; pod.go, container.go,
// probe.go, env.go, resources.go and volume.go the pod spec, podupdate.go
// what may change in a running pod; then one file per group of kinds
// (workload.go, statefulset.go, job.go, service.go, serviceupdate.go,
// discovery.go, config.go, cluster.go, event.go, rbac.go, autoscaling.go,
// crd.go).
package validation
