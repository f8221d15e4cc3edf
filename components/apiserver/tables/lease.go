package tables

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// leasePrinter serves `kubectl get leases -A`: node heartbeats in
// kube-node-lease and leader election locks in kube-system, with who holds
// them.
var leasePrinter = typed[coordinationv1.Lease]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
		ageColumn(),
	},
	cells: func(l *coordinationv1.Lease) []interface{} {
		holder := ""
		if l.Spec.HolderIdentity != nil {
			holder = *l.Spec.HolderIdentity
		}
		return []interface{}{l.Name, holder, since(l.CreationTimestamp)}
	},
}
