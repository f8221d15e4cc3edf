// Package podstatus is the kubelet's status box: it turns what the node
// knows about a pod into the corev1.PodStatus the apiserver stores.
//
//	pod spec ─┐
//	runtime ContainerStatus records (every attempt) ─┤
//	waiting reasons (ErrImagePull, CrashLoopBackOff…) ─┼─► Compute ─► corev1.PodStatus
//	probe results (ready/started) ─┤                     (phase, conditions,
//	old status, pod/host IPs ─┘                           container statuses, QoS)
//
// Everything here is pure: no clock, no I/O. The rules follow the upstream
// kubelet (generateAPIPodStatus, getPhase, convertToAPIContainerStatuses and
// the status/generate.go condition builders) so that kubectl, controllers
// and students see the same fields and messages a real cluster shows.
//
// The package also holds the CrashLoopBackOff delay (10s doubling to 300s)
// as a pure function and a small per-container tracker.
package podstatus
