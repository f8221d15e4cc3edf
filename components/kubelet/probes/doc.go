// Package probes is the kubelet's prober box: it runs liveness, readiness
// and startup probes against containers and reports what they conclude.
//
//	Manager.AddPod ──► one worker per (pod, container, probe kind)
//	    every periodSeconds: State(pod, container) ─► running? started? past initialDelay?
//	                         ─► Run(probe): exec | httpGet | tcpSocket | grpc
//	                         ─► count successes/failures against the thresholds
//	                         ─► on a change: OnResult(Result)  ─► kubelet restarts on
//	                                                              liveness failure,
//	                                                              updates Ready
//	Manager.Status(pod, container) ─► started, ready (for the pod status)
//
// Probes dial the pod IP straight from the kubelet: the kubelet lives in
// the node's network namespace, where every pod IP is routable through the
// node bridge, so no namespace switching is needed. Exec probes go through
// a function the kubelet provides (the runtime's exec).
//
// The rules follow upstream pkg/probe and pkg/kubelet/prober.
package probes
