package validation

import (
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Upstream's limits on event strings (pkg/apis/core/validation/events.go).
const (
	eventShortLimit = 128  // reportingInstance, action, reason
	eventNoteLimit  = 1024 // message / note
)

// event mirrors upstream's legacy Event validation (core/v1, what
// `kubectl describe` reads and the old client-go recorder writes). An event
// lives in the namespace of the object it is about; events about
// cluster-scoped objects (Nodes) go to "default".
func event(e *corev1.Event) field.ErrorList {
	errs := objectMeta(&e.ObjectMeta, schema.GroupKind{Kind: "Event"})
	about := field.NewPath("involvedObject", "namespace")
	if e.EventTime.IsZero() {
		if e.InvolvedObject.Namespace == "" {
			if e.Namespace != "" && e.Namespace != metav1.NamespaceDefault {
				errs = append(errs, field.Invalid(about, e.InvolvedObject.Namespace, "does not match event.namespace"))
			}
		} else if e.Namespace != e.InvolvedObject.Namespace {
			errs = append(errs, field.Invalid(about, e.InvolvedObject.Namespace, "does not match event.namespace"))
		}
		return errs
	}
	// A "new style" event (it has an eventTime) must say who reported it.
	if e.InvolvedObject.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
		errs = append(errs, field.Invalid(about, e.InvolvedObject.Namespace, "does not match event.namespace"))
	}
	errs = append(errs, reporter(e.ReportingController, e.ReportingInstance, e.Action, e.Reason, "reportingComponent")...)
	if len(e.Message) > eventNoteLimit {
		errs = append(errs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %d characters", eventNoteLimit)))
	}
	return errs
}

// eventsEvent validates the events.k8s.io/v1 Event, which client-go's newer
// recorder writes. Its rules are the strict ones: an eventTime, a type, and
// the reporter fields are required.
func eventsEvent(e *eventsv1.Event) field.ErrorList {
	errs := objectMeta(&e.ObjectMeta, schema.GroupKind{Group: "events.k8s.io", Kind: "Event"})
	if e.Regarding.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
		errs = append(errs, field.Invalid(field.NewPath("regarding", "namespace"), e.Regarding.Namespace, "does not match event.namespace"))
	} else if e.Regarding.Namespace != "" && e.Regarding.Namespace != e.Namespace {
		errs = append(errs, field.Invalid(field.NewPath("regarding", "namespace"), e.Regarding.Namespace, "does not match event.namespace"))
	}
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), "", "has invalid value: "+e.Type))
	}
	errs = append(errs, reporter(e.ReportingController, e.ReportingInstance, e.Action, e.Reason, "reportingController")...)
	if len(e.Note) > eventNoteLimit {
		errs = append(errs, field.TooLong(field.NewPath("note"), "", eventNoteLimit))
	}
	if s := e.Series; s != nil {
		if s.Count < 2 {
			errs = append(errs, field.Invalid(field.NewPath("series", "count"), "", "should be at least 2"))
		}
		if s.LastObservedTime.IsZero() {
			errs = append(errs, field.Required(field.NewPath("series", "lastObservedTime"), ""))
		}
	}
	return errs
}

// reporter checks the fields naming who reported an event and what it did.
func reporter(controller, instance, action, reason, controllerField string) field.ErrorList {
	var errs field.ErrorList
	if controller == "" {
		errs = append(errs, field.Required(field.NewPath(controllerField), ""))
	} else {
		errs = append(errs, qualifiedName(controller, field.NewPath(controllerField))...)
	}
	for _, f := range []struct{ name, value string }{
		{"reportingInstance", instance}, {"action", action}, {"reason", reason},
	} {
		p := field.NewPath(f.name)
		switch {
		case f.value == "":
			errs = append(errs, field.Required(p, ""))
		case len(f.value) > eventShortLimit:
			errs = append(errs, field.Invalid(p, "", fmt.Sprintf("can have at most %d characters", eventShortLimit)))
		}
	}
	return errs
}

// lease mirrors upstream's ValidateLease. Leases are how leader election and
// node heartbeats work: a holder renews the lease before it expires.
func lease(l *coordinationv1.Lease) field.ErrorList {
	errs := objectMeta(&l.ObjectMeta, schema.GroupKind{Group: "coordination.k8s.io", Kind: "Lease"})
	if d := l.Spec.LeaseDurationSeconds; d != nil {
		errs = append(errs, greaterThanZero(*d, specPath.Child("leaseDurationSeconds"))...)
	}
	if t := l.Spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(specPath.Child("leaseTransitions"), *t, "must be greater than or equal to 0"))
	}
	if h := l.Spec.PreferredHolder; h != nil && *h != "" && (l.Spec.Strategy == nil || *l.Spec.Strategy == "") {
		errs = append(errs, field.Forbidden(specPath.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}
