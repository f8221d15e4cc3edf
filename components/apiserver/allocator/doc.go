// Package allocator hands out the two cluster-wide resources a Service can
// claim: virtual IPs from the service CIDR (--service-cluster-ip-range) and
// node ports from the NodePort range (--service-node-port-range).
//
// Where it sits: inside the kube-apiserver box, between the Service registry
// and etcd. The registry calls Services.Create/Update/Delete around its own
// etcd write of the Service object; this package fills in spec.clusterIP(s),
// spec.ipFamilies, spec.ipFamilyPolicy, spec.ports[*].nodePort and
// spec.healthCheckNodePort, and reserves each value in etcd first.
//
//	POST /api/v1/namespaces/default/services
//	  registry ──Create(svc)──▶ allocator ──txn per value──▶ etcd /registry/ipaddresses/10.32.0.17
//	                                                           etcd /registry/servicenodeports/31234
//	  registry ──write Service──▶ etcd /registry/services/default/web
//	  (write failed? registry calls the release func it got back)
//
// How the registry uses it:
//
//	create: release, err := Create(svc); write svc; write failed? release()
//	update: commit, rollback, err := Update(new, old); write new; ok? commit() : rollback()
//	delete: delete svc from etcd; then Delete(svc)
//	start:  list all Services; Repair(services); then serve
//
// Errors caused by the request are *apierrors.StatusError (422 Invalid with
// the field path; 500 when a range is full) and go back to the client as
// they are; etcd trouble comes back as a plain wrapped error.
//
// Why one etcd key per value: kubelab's apiserver may run as several
// replicas against one etcd. An in-memory bitmap per replica would let two
// replicas hand out the same IP. Instead every reservation is an etcd
// transaction "create this key only if it does not exist"
// (If(CreateRevision(key)==0) Then(Put)), so etcd decides who wins and exactly
// one replica does. Kubernetes moved to the same shape in 1.33, where each
// ClusterIP is a networking.k8s.io/v1 IPAddress object. A student can see every
// reservation with
//
//	etcdctl get --prefix /registry/ipaddresses
//	etcdctl get --prefix /registry/servicenodeports
//
// The value of each key is a little JSON document naming the owning Service,
// which is what Repair uses at apiserver start to find keys leaked by a crash
// between "reserve" and "write the Service".
package allocator
