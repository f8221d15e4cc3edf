// Package registry is the API server's model of "a resource": what kinds it
// serves, where each lives in etcd, and the generic rules every write goes
// through (metadata, status split, generation, finalizers, optimistic
// concurrency). It sits between the REST handlers (package rest) and etcd
// (package storage):
//
//	HTTP request ─▶ rest: decode, pick Resource ─▶ registry.Store: defaults,
//	validation, admission hooks, metadata rules ─▶ storage: etcd transaction
//
// Per-kind behaviour is data in an Info (is it namespaced? does it have a
// status subresource? a scale subresource?) plus small hooks, the way
// upstream's "strategies" work, so the generic code reads the same for pods,
// deployments and custom resources.
package registry

import (
	"path"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Printer turns objects into the rows of the table kubectl prints (package
// tables implements it for every kind).
type Printer interface {
	Columns() []metav1.TableColumnDefinition
	Cells(obj runtime.Object) ([]interface{}, error)
}

// Info describes one served resource.
type Info struct {
	GVK        schema.GroupVersionKind
	Resource   string // plural, the URL segment: "pods"
	Singular   string
	ShortNames []string
	Categories []string
	Namespaced bool

	// New returns an empty typed object; nil means a custom resource,
	// handled as *unstructured.Unstructured.
	New     func() runtime.Object
	NewList func() runtime.Object

	// Status: the object has a /status subresource; writes to the main
	// resource keep the stored status and writes to /status keep the rest.
	Status bool
	// KeepStatusOnCreate: a create may set status (nodes: the kubelet
	// registers its node with capacity and conditions at once).
	KeepStatusOnCreate bool
	// Scale: the object has a /scale subresource (autoscaling/v1 Scale).
	Scale *ScalePaths
	// Generation: metadata.generation counts changes to everything but
	// metadata and status (what controllers compare observedGeneration to).
	Generation bool
	// TriggerField is a field watchers commonly select on with one value
	// (pods: spec.nodeName, each kubelet's watch); the watch cache indexes
	// such watchers so an event only reaches those it can match.
	TriggerField string
	// TTL makes objects expire that long after their last write (Events:
	// --event-ttl); 0 keeps them until deleted.
	TTL time.Duration
	// AllowCreateOnUpdate: PUT of a missing object creates it.
	AllowCreateOnUpdate bool
	// Subresources served by special handlers (pods/binding, pods/log, ...).
	Subresources []string

	// KeyRoot is the etcd prefix, e.g. "/registry/pods".
	KeyRoot string
	// Printer makes the server-side table kubectl prints.
	Printer Printer
	// Hooks are the per-kind steps around writes (may be nil).
	Hooks Hooks
	// Schema is a custom resource's schema (nil for built-ins, and for
	// CRD versions without one).
	Schema CustomSchema
}

// CustomSchema prunes, defaults and validates custom resources by their
// CRD's openAPIV3Schema (package crd implements it).
type CustomSchema interface {
	Prune(obj runtime.Object) (unknown []string)
	Default(obj runtime.Object)
	Validate(obj runtime.Object) field.ErrorList
}

// ScalePaths says where a scalable object keeps its replica counts, as
// dotted JSON paths (".spec.replicas"), like a CRD's scale subresource.
type ScalePaths struct {
	SpecReplicas   string
	StatusReplicas string
	LabelSelector  string // a string field, or a LabelSelector object
}

// GVR is the resource's group/version/resource.
func (i *Info) GVR() schema.GroupVersionResource {
	return i.GVK.GroupVersion().WithResource(i.Resource)
}

// GroupResource names the resource in error messages: "pods", "deployments.apps".
func (i *Info) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: i.GVK.Group, Resource: i.Resource}
}

// IsCustom reports whether objects are unstructured (a CRD's custom resource).
func (i *Info) IsCustom() bool { return i.New == nil }

// Key is the etcd key of one object.
func (i *Info) Key(namespace, name string) string {
	if i.Namespaced {
		return path.Join(i.KeyRoot, namespace, name)
	}
	return path.Join(i.KeyRoot, name)
}

// Prefix is the etcd prefix of a namespace's objects ("" = all namespaces),
// always ending in "/" so "services" never matches "serviceaccounts".
func (i *Info) Prefix(namespace string) string {
	if i.Namespaced && namespace != "" {
		return path.Join(i.KeyRoot, namespace) + "/"
	}
	return i.KeyRoot + "/"
}

// HasSubresource reports whether sub is served for this resource.
func (i *Info) HasSubresource(sub string) bool {
	switch sub {
	case "status":
		return i.Status
	case "scale":
		return i.Scale != nil
	}
	for _, s := range i.Subresources {
		if s == sub {
			return true
		}
	}
	return false
}
