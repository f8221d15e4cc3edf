// Package scheduler is kube-scheduler: it gives every pod that has no node
// a node, by writing a Binding. It never starts anything; the kubelet on the
// chosen node sees the pod (spec.nodeName is now its name) and runs it.
//
// One pod at a time goes through a scheduling cycle; the API write that
// records the decision (the binding cycle) runs in the background, so the
// next cycle starts at once:
//
//	informers (pods, nodes) ──▶ Cache: nodes + the pods on them (bound or assumed)
//	     │ unscheduled pod                  │
//	     ▼                                  ▼ copy what changed
//	  Queue ──Pop──▶ ┌──────────── scheduling cycle (one at a time) ─────────────┐
//	(activeQ,        │ Snapshot ─▶ PreFilter ─▶ Filter (nodes in parallel,       │
//	 backoffQ,       │             stop after enough feasible ones) ─▶ Score ─▶  │
//	 unschedulable)  │ pick the best node (ties at random) ─▶ assume in Cache    │
//	     ▲           └──────────────────────────────┬───────────────────────────┘
//	     │ no node fits: event FailedScheduling,    │ go bind(): POST pods/<name>/binding
//	     │ PodScheduled=False, wait for a change    ▼
//	     └──────────────── binding failed ◀── binding cycle ──▶ event Scheduled
//
// Filters say no with a reason (`Insufficient cpu`); the reasons of all
// nodes, counted, are the FailedScheduling message kubectl describe shows.
// Scores (0–100 per plugin, weighted) pick among the nodes that pass.
// The plugins live in package plugins; the shared types in framework.
//
// Every decision is kept (the last 1000) and explained at
// /debug/scheduler/explain?pod=<namespace>/<name>: each node's verdict and
// each plugin's score.
//
// Not implemented: preemption (the FailedScheduling message says what
// upstream says when preemption finds nothing), volume binding, scheduling
// gates, extenders, ScheduleAnyway topology spread scoring.
package scheduler
