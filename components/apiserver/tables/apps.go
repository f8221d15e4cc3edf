package tables

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Replica counts that are pointers in apps/v1 (spec.replicas) default to 1
// on write in a real server; replicasOr applies the same default so an
// object that skipped defaulting still prints like a real one.

var deploymentPrinter = typed[appsv1.Deployment]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Ready", "string", "Number of the pod with ready state"),
		column("Up-to-date", "string", appsv1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]),
		column("Available", "string", appsv1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]),
		ageColumn(),
		wide("Containers", "string", containersDoc),
		wide("Images", "string", imagesDoc),
		wide("Selector", "string", appsv1.DeploymentSpec{}.SwaggerDoc()["selector"]),
	},
	cells: func(d *appsv1.Deployment) []interface{} {
		names, images := containerCells(d.Spec.Template.Spec.Containers)
		return []interface{}{
			d.Name,
			fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicasOr(d.Spec.Replicas, 1)),
			int64(d.Status.UpdatedReplicas),
			int64(d.Status.AvailableReplicas),
			since(d.CreationTimestamp),
			names, images,
			selectorString(d.Spec.Selector),
		}
	},
}

// selectorString renders a label selector like "app=web,tier in (a,b)";
// unlike metav1.FormatLabelSelector it prints nothing (not "<none>") for an
// empty selector, which is what the Deployment printer does upstream.
func selectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "<invalid>"
	}
	return s.String()
}

var replicaSetPrinter = typed[appsv1.ReplicaSet]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Desired", "integer", appsv1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]),
		column("Current", "integer", appsv1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]),
		column("Ready", "integer", appsv1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]),
		ageColumn(),
		wide("Containers", "string", containersDoc),
		wide("Images", "string", imagesDoc),
		wide("Selector", "string", appsv1.ReplicaSetSpec{}.SwaggerDoc()["selector"]),
	},
	cells: func(rs *appsv1.ReplicaSet) []interface{} {
		names, images := containerCells(rs.Spec.Template.Spec.Containers)
		return []interface{}{
			rs.Name,
			int64(replicasOr(rs.Spec.Replicas, 1)),
			int64(rs.Status.Replicas),
			int64(rs.Status.ReadyReplicas),
			since(rs.CreationTimestamp),
			names, images,
			metav1.FormatLabelSelector(rs.Spec.Selector),
		}
	},
}

var daemonSetPrinter = typed[appsv1.DaemonSet]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Desired", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"]),
		column("Current", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"]),
		column("Ready", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["numberReady"]),
		column("Up-to-date", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"]),
		column("Available", "integer", appsv1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"]),
		column("Node Selector", "string", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
		ageColumn(),
		wide("Containers", "string", containersDoc),
		wide("Images", "string", imagesDoc),
		wide("Selector", "string", appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"]),
	},
	cells: func(ds *appsv1.DaemonSet) []interface{} {
		names, images := containerCells(ds.Spec.Template.Spec.Containers)
		return []interface{}{
			ds.Name,
			int64(ds.Status.DesiredNumberScheduled),
			int64(ds.Status.CurrentNumberScheduled),
			int64(ds.Status.NumberReady),
			int64(ds.Status.UpdatedNumberScheduled),
			int64(ds.Status.NumberAvailable),
			labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
			since(ds.CreationTimestamp),
			names, images,
			metav1.FormatLabelSelector(ds.Spec.Selector),
		}
	},
}

var statefulSetPrinter = typed[appsv1.StatefulSet]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Ready", "string", "Number of the pod with ready state"),
		ageColumn(),
		wide("Containers", "string", containersDoc),
		wide("Images", "string", imagesDoc),
	},
	cells: func(ss *appsv1.StatefulSet) []interface{} {
		names, images := containerCells(ss.Spec.Template.Spec.Containers)
		return []interface{}{
			ss.Name,
			fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, replicasOr(ss.Spec.Replicas, 1)),
			since(ss.CreationTimestamp),
			names, images,
		}
	},
}

// controllerRevisionPrinter serves `kubectl get controllerrevisions`, the
// history DaemonSets and StatefulSets roll back to.
var controllerRevisionPrinter = typed[appsv1.ControllerRevision]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Controller", "string", "Controller of the object"),
		column("Revision", "string", appsv1.ControllerRevision{}.SwaggerDoc()["revision"]),
		ageColumn(),
	},
	cells: func(cr *appsv1.ControllerRevision) []interface{} {
		controller := "<none>"
		if ref := metav1.GetControllerOf(cr); ref != nil {
			controller = ref.Name
			if gv, err := schema.ParseGroupVersion(ref.APIVersion); err == nil {
				if gk := gv.WithKind(ref.Kind).GroupKind(); !gk.Empty() {
					controller = strings.ToLower(gk.String()) + "/" + ref.Name
				}
			}
		}
		return []interface{}{cr.Name, controller, cr.Revision, since(cr.CreationTimestamp)}
	},
}
