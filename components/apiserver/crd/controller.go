// Package crd makes CustomResourceDefinitions real: when a CRD is stored,
// its custom resources start being served (discovery, REST, watch, tables),
// and when it is deleted, its objects go with it.
//
//	kubectl apply -f crontab-crd.yaml
//	  └─ CRD stored in etcd ─▶ watch cache ─▶ Controller.sync
//	       ├─ registry.Add(Info for stable.example.com/v1 crontabs)  -> served
//	       └─ status: NamesAccepted + Established                     -> `kubectl wait --for condition=established`
//	kubectl delete crd crontabs.stable.example.com
//	  └─ deletionTimestamp set (our finalizer holds it) ─▶ sync
//	       ├─ delete every CronTab from etcd, stop serving
//	       └─ remove the finalizer                                    -> CRD gone
//
// It runs inside the API server because it changes what the server serves,
// like upstream's apiextensions-apiserver controllers.
package crd

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kubelab/kubelab/components/apiserver/registry"
	"github.com/kubelab/kubelab/components/apiserver/tables"
)

// Finalizer keeps a deleted CRD until its custom resources are gone.
const Finalizer = "customresourcecleanup.apiextensions.k8s.io"

// GVR of the CRD resource itself.
var GVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Hooks add the cleanup finalizer to every new CRD.
func Hooks() registry.Hooks {
	return registry.Hooks{PrepareCreate: func(obj runtime.Object) {
		c := obj.(*apiextensionsv1.CustomResourceDefinition)
		for _, f := range c.Finalizers {
			if f == Finalizer {
				return
			}
		}
		c.Finalizers = append(c.Finalizers, Finalizer)
	}}
}

// Controller follows CRDs and serves their resources.
type Controller struct {
	reg    *registry.Registry
	crds   *registry.Store
	served map[string]served // by CRD name
}

type served struct {
	signature string
	gvrs      []schema.GroupVersionResource
}

// NewController makes a controller over the registry's CRD store.
func NewController(reg *registry.Registry) *Controller {
	return &Controller{reg: reg, crds: reg.MustLookup(GVR), served: map[string]served{}}
}

// Run watches CRDs until ctx ends (re-watching if the cache drops it).
func (c *Controller) Run(ctx context.Context) {
	for ctx.Err() == nil {
		events, _, w, err := c.crds.Cache.Watch(ctx, c.crds.Info.Prefix(""), 0, true, "")
		if err != nil {
			slog.Warn("crd controller watch failed", "err", err)
			time.Sleep(time.Second)
			continue
		}
		for _, e := range events {
			c.handle(ctx, e.Type, e.Object)
		}
		for e := range w.Events() {
			if e.Type != watch.Bookmark {
				c.handle(ctx, e.Type, e.Object)
			}
		}
		w.Stop()
	}
}

func (c *Controller) handle(ctx context.Context, typ watch.EventType, obj runtime.Object) {
	def, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok {
		return
	}
	if typ == watch.Deleted {
		c.stop(def.Name)
		return
	}
	if def.DeletionTimestamp != nil {
		c.cleanup(ctx, def)
		return
	}
	c.serve(def)
	c.establish(ctx, def)
}

// serve registers one Info per served version (when the definition changed).
func (c *Controller) serve(def *apiextensionsv1.CustomResourceDefinition) {
	sig, _ := json.Marshal(def.Spec)
	if c.served[def.Name].signature == string(sig) {
		return
	}
	c.stop(def.Name)
	var gvrs []schema.GroupVersionResource
	for _, v := range def.Spec.Versions {
		if !v.Served {
			continue
		}
		info, err := InfoFor(def, v)
		if err != nil {
			slog.Warn("cannot serve custom resource", "crd", def.Name, "version", v.Name, "err", err)
			continue
		}
		if _, err := c.reg.Add(info); err != nil {
			slog.Warn("cannot serve custom resource", "crd", def.Name, "version", v.Name, "err", err)
			continue
		}
		gvrs = append(gvrs, info.GVR())
	}
	c.served[def.Name] = served{signature: string(sig), gvrs: gvrs}
	slog.Info("serving custom resource", "crd", def.Name, "versions", len(gvrs))
}

func (c *Controller) stop(name string) {
	for _, gvr := range c.served[name].gvrs {
		c.reg.Remove(gvr)
	}
	delete(c.served, name)
}

// InfoFor describes one version of a custom resource.
func InfoFor(def *apiextensionsv1.CustomResourceDefinition, v apiextensionsv1.CustomResourceDefinitionVersion) (*registry.Info, error) {
	printer, err := tables.ForCustomResource(v.AdditionalPrinterColumns)
	if err != nil {
		return nil, err
	}
	sch, err := NewSchema(v.Schema)
	if err != nil {
		return nil, err
	}
	n := def.Spec.Names
	info := &registry.Info{
		GVK:        schema.GroupVersionKind{Group: def.Spec.Group, Version: v.Name, Kind: n.Kind},
		Resource:   n.Plural,
		Singular:   n.Singular,
		ShortNames: n.ShortNames,
		Categories: n.Categories,
		Namespaced: def.Spec.Scope == apiextensionsv1.NamespaceScoped,
		Generation: true,
		KeyRoot:    "/registry/" + def.Spec.Group + "/" + n.Plural,
		Printer:    printer,
	}
	if sch != nil {
		info.Schema = sch // a nil *Schema must not become a non-nil interface
	}
	if info.Singular == "" {
		info.Singular = lowerASCII(n.Kind)
	}
	if s := v.Subresources; s != nil {
		info.Status = s.Status != nil
		if s.Scale != nil {
			sel := ""
			if s.Scale.LabelSelectorPath != nil {
				sel = *s.Scale.LabelSelectorPath
			}
			info.Scale = &registry.ScalePaths{SpecReplicas: s.Scale.SpecReplicasPath, StatusReplicas: s.Scale.StatusReplicasPath, LabelSelector: sel}
		}
	}
	return info, nil
}

// establish reports the CRD as accepted and established.
func (c *Controller) establish(ctx context.Context, def *apiextensionsv1.CustomResourceDefinition) {
	if isEstablished(def) {
		return
	}
	_, _, err := c.crds.Update(ctx, "", def.Name, func(cur runtime.Object) (runtime.Object, error) {
		d := cur.(*apiextensionsv1.CustomResourceDefinition)
		now := metav1.Now()
		d.Status.AcceptedNames = d.Spec.Names
		if d.Status.AcceptedNames.Singular == "" {
			d.Status.AcceptedNames.Singular = lowerASCII(d.Spec.Names.Kind)
		}
		d.Status.Conditions = []apiextensionsv1.CustomResourceDefinitionCondition{
			{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionTrue, Reason: "NoConflicts", Message: "no conflicts found", LastTransitionTime: now},
			{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue, Reason: "InitialNamesAccepted", Message: "the initial names have been accepted", LastTransitionTime: now},
		}
		for _, v := range d.Spec.Versions {
			if v.Storage && !containsString(d.Status.StoredVersions, v.Name) {
				d.Status.StoredVersions = append(d.Status.StoredVersions, v.Name)
			}
		}
		d.ResourceVersion = ""
		return d, nil
	}, registry.WriteOptions{Subresource: "status", FieldManager: "kube-apiserver"})
	if err != nil {
		slog.Warn("cannot update crd status", "crd", def.Name, "err", err)
	}
}

func isEstablished(def *apiextensionsv1.CustomResourceDefinition) bool {
	for _, cond := range def.Status.Conditions {
		if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// cleanup deletes every custom resource of a deleted CRD, then lets the CRD go.
func (c *Controller) cleanup(ctx context.Context, def *apiextensionsv1.CustomResourceDefinition) {
	c.stop(def.Name)
	prefix := "/registry/" + def.Spec.Group + "/" + def.Spec.Names.Plural + "/"
	if _, err := c.reg.Etcd().Client().Delete(ctx, prefix, clientv3.WithPrefix()); err != nil {
		slog.Warn("cannot delete custom resources", "crd", def.Name, "err", err)
		return
	}
	_, _, err := c.crds.Update(ctx, "", def.Name, func(cur runtime.Object) (runtime.Object, error) {
		d := cur.(*apiextensionsv1.CustomResourceDefinition)
		var keep []string
		for _, f := range d.Finalizers {
			if f != Finalizer {
				keep = append(keep, f)
			}
		}
		d.Finalizers = keep
		d.ResourceVersion = ""
		return d, nil
	}, registry.WriteOptions{FieldManager: "kube-apiserver"})
	if err != nil {
		slog.Warn("cannot finalize crd", "crd", def.Name, "err", err)
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch >= 'A' && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}
