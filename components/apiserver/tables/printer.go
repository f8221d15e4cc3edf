package tables

import (
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Printer turns objects of one kind into table rows.
type Printer interface {
	Columns() []metav1.TableColumnDefinition
	Cells(obj runtime.Object) ([]interface{}, error)
}

// builtin maps every built-in kind that has its own columns upstream to its
// printer. Anything missing here falls back to the default printer.
var builtin = map[schema.GroupVersionKind]Printer{
	corev1.SchemeGroupVersion.WithKind("Pod"):                            podPrinter,
	corev1.SchemeGroupVersion.WithKind("Node"):                           nodePrinter,
	corev1.SchemeGroupVersion.WithKind("Namespace"):                      namespacePrinter,
	corev1.SchemeGroupVersion.WithKind("Service"):                        servicePrinter,
	corev1.SchemeGroupVersion.WithKind("Endpoints"):                      endpointsPrinter,
	corev1.SchemeGroupVersion.WithKind("ConfigMap"):                      configMapPrinter,
	corev1.SchemeGroupVersion.WithKind("Secret"):                         secretPrinter,
	corev1.SchemeGroupVersion.WithKind("ServiceAccount"):                 serviceAccountPrinter,
	corev1.SchemeGroupVersion.WithKind("Event"):                          eventPrinter,
	corev1.SchemeGroupVersion.WithKind("ReplicationController"):          replicationControllerPrinter,
	corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"):          pvcPrinter,
	corev1.SchemeGroupVersion.WithKind("PersistentVolume"):               pvPrinter,
	appsv1.SchemeGroupVersion.WithKind("Deployment"):                     deploymentPrinter,
	appsv1.SchemeGroupVersion.WithKind("ReplicaSet"):                     replicaSetPrinter,
	appsv1.SchemeGroupVersion.WithKind("DaemonSet"):                      daemonSetPrinter,
	appsv1.SchemeGroupVersion.WithKind("StatefulSet"):                    statefulSetPrinter,
	appsv1.SchemeGroupVersion.WithKind("ControllerRevision"):             controllerRevisionPrinter,
	batchv1.SchemeGroupVersion.WithKind("Job"):                           jobPrinter,
	batchv1.SchemeGroupVersion.WithKind("CronJob"):                       cronJobPrinter,
	discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"):             endpointSlicePrinter,
	coordinationv1.SchemeGroupVersion.WithKind("Lease"):                  leasePrinter,
	rbacv1.SchemeGroupVersion.WithKind("RoleBinding"):                    roleBindingPrinter,
	rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding"):             clusterRoleBindingPrinter,
	autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"): hpaV2Printer,
	autoscalingv1.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"): hpaV1Printer,
	policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"):          pdbPrinter,
}

// For returns the printer for a built-in kind (typed objects from k8s.io/api), or the default printer
// (columns "Name" and "Created At", like the upstream DefaultTableConvertor) for kinds it does not know.
//
// Role, ClusterRole and CustomResourceDefinition deliberately get the default
// printer: upstream registers no columns for them either, which is why
// `kubectl get clusterroles` shows NAME and CREATED AT.
func For(gvk schema.GroupVersionKind) Printer {
	if p, ok := builtin[gvk]; ok {
		return p
	}
	return defaultPrinter{}
}

// typed is the Printer for one Go type from k8s.io/api: a fixed header and a
// function that fills the cells of one row. The cells always include the
// wide (priority 1) columns, because the real server always generates them
// and lets kubectl decide what to hide.
type typed[T any] struct {
	columns []metav1.TableColumnDefinition
	cells   func(*T) []interface{}
}

func (p typed[T]) Columns() []metav1.TableColumnDefinition {
	return slices.Clone(p.columns)
}

func (p typed[T]) Cells(obj runtime.Object) ([]interface{}, error) {
	// The assertion goes through any because Go cannot know that *T
	// implements runtime.Object; for k8s.io/api types it always does.
	if o, ok := any(obj).(*T); ok {
		if o == nil {
			return nil, fmt.Errorf("print %T: nil object", o)
		}
		return p.cells(o), nil
	}
	if u, ok := obj.(runtime.Unstructured); ok {
		// A built-in object that arrived as unstructured JSON (for example
		// through a dynamic client path): convert it to the typed struct so
		// the same printer applies.
		var t T
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), &t); err != nil {
			return nil, fmt.Errorf("print %T from unstructured: %w", &t, err)
		}
		return p.cells(&t), nil
	}
	var t *T
	return nil, fmt.Errorf("print %T: unexpected object %T", t, obj)
}

// defaultPrinter is what upstream's DefaultTableConvertor serves for kinds
// without their own columns: the name, and the creation time as an RFC 3339
// timestamp (not a duration: the column type is "date").
type defaultPrinter struct{}

func (defaultPrinter) Columns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Created At", Type: "date", Description: objectMetaDoc["creationTimestamp"]},
	}
}

func (defaultPrinter) Cells(obj runtime.Object) ([]interface{}, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("print %T: %w", obj, err)
	}
	return []interface{}{m.GetName(), m.GetCreationTimestamp().UTC().Format(time.RFC3339)}, nil
}

// objectMetaDoc holds the API documentation of metadata fields; upstream
// uses it as the description of the Name and Age columns.
var objectMetaDoc = metav1.ObjectMeta{}.SwaggerDoc()

func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: objectMetaDoc["name"]}
}

func ageColumn() metav1.TableColumnDefinition {
	return column("Age", "string", objectMetaDoc["creationTimestamp"])
}

// column is a column shown by plain `kubectl get`.
func column(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

// wide is a column only `kubectl get -o wide` shows (priority 1).
func wide(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description, Priority: 1}
}

// now is the clock for every "how long ago" cell; tests replace it.
var now = time.Now

// since renders the time elapsed since t the way every Age cell does,
// e.g. "45s", "5m12s", "3h", "12d".
func since(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now().Sub(t.Time))
}

// sinceMicro is since for the microsecond timestamps of events.
func sinceMicro(t metav1.MicroTime) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now().Sub(t.Time))
}

// orNone returns "<none>" for an empty string, the placeholder kubectl users
// know from IP, node and selector columns.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// replicasOr returns *p, or the API default when the field was never set.
func replicasOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}
