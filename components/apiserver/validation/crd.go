package validation

import (
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// customResourceDefinition mirrors the parts of upstream's
// ValidateCustomResourceDefinition (apiextensions-apiserver
// pkg/apis/apiextensions/validation) that decide whether the API server can
// serve the new resource at all: its URL (/apis/<group>/<version>/<plural>),
// its kinds, one version to store in etcd, and a structural schema to
// prune and validate objects with.
func customResourceDefinition(crd *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	s := &crd.Spec
	// The object's name is the resource's name in discovery, so the two
	// cannot disagree.
	nameRule := func(name string, prefix bool) []string {
		msgs := apimachineryvalidation.NameIsDNSSubdomain(name, prefix)
		if name != s.Names.Plural+"."+s.Group {
			msgs = append(msgs, `must be spec.names.plural+"."+spec.group`)
		}
		return msgs
	}
	errs := apimachineryvalidation.ValidateObjectMeta(&crd.ObjectMeta, false, nameRule, metadataPath)

	gp := specPath.Child("group")
	switch {
	case s.Group == "":
		errs = append(errs, field.Required(gp, ""))
	case len(utilvalidation.IsDNS1123Subdomain(s.Group)) > 0:
		errs = append(errs, field.Invalid(gp, s.Group, strings.Join(utilvalidation.IsDNS1123Subdomain(s.Group), ",")))
	case !strings.Contains(s.Group, "."):
		// A dotless group could collide with a future built-in group.
		errs = append(errs, field.Invalid(gp, s.Group, "should be a domain with at least one dot"))
	}
	errs = append(errs, oneOf(string(s.Scope), specPath.Child("scope"),
		string(apiextensionsv1.ClusterScoped), string(apiextensionsv1.NamespaceScoped))...)
	errs = append(errs, crdVersions(s)...)
	errs = append(errs, crdNames(&s.Names, specPath.Child("names"))...)
	if c := s.Conversion; c != nil {
		cp := specPath.Child("conversion")
		errs = append(errs, oneOf(string(c.Strategy), cp.Child("strategy"),
			string(apiextensionsv1.NoneConverter), string(apiextensionsv1.WebhookConverter))...)
		if c.Strategy == apiextensionsv1.WebhookConverter && (c.Webhook == nil || c.Webhook.ClientConfig == nil) {
			errs = append(errs, field.Required(cp.Child("webhook", "clientConfig"), "required when strategy is set to Webhook"))
		}
	}
	return append(errs, storedVersions(crd)...)
}

// crdVersions: each served version needs a schema; exactly one version is
// the one objects are stored as in etcd.
func crdVersions(s *apiextensionsv1.CustomResourceDefinitionSpec) field.ErrorList {
	var errs field.ErrorList
	vp := specPath.Child("versions")
	storage, served := 0, 0
	seen := map[string]bool{}
	unique := true
	for i := range s.Versions {
		v, idx := &s.Versions[i], vp.Index(i)
		if v.Storage {
			storage++
		}
		if v.Served {
			served++
		}
		unique = unique && !seen[v.Name]
		seen[v.Name] = true
		if msgs := utilvalidation.IsDNS1035Label(v.Name); len(msgs) > 0 {
			errs = append(errs, field.Invalid(idx.Child("name"), v.Name, strings.Join(msgs, ",")))
		}
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			errs = append(errs, field.Required(idx.Child("schema"), "schemas are required"))
		} else {
			errs = append(errs, structural(v.Schema.OpenAPIV3Schema, idx.Child("schema", "openAPIV3Schema"), "")...)
		}
		for j, col := range v.AdditionalPrinterColumns {
			cp := idx.Child("additionalPrinterColumns").Index(j)
			if col.Name == "" {
				errs = append(errs, field.Required(cp.Child("name"), ""))
			}
			errs = append(errs, oneOf(col.Type, cp.Child("type"), "boolean", "date", "integer", "number", "string")...)
			if col.JSONPath == "" {
				errs = append(errs, field.Required(cp.Child("jsonPath"), ""))
			}
		}
	}
	if !unique {
		errs = append(errs, field.Invalid(vp, s.Versions, "must contain unique version names"))
	}
	if storage != 1 {
		errs = append(errs, field.Invalid(vp, s.Versions, "must have exactly one version marked as storage version"))
	}
	// Upstream accepts a CRD that serves nothing; kubelab refuses it, since
	// such a resource cannot be reached at all.
	if len(s.Versions) > 0 && served == 0 {
		errs = append(errs, field.Invalid(vp, s.Versions, "must have at least one version marked as served"))
	}
	return errs
}

var schemaTypes = []string{"array", "boolean", "integer", "number", "object", "string"}

// structural is a small version of upstream's structural-schema check:
// every field has a type (so unknown fields can be pruned), arrays say what
// they hold, and the root is an object. why tells what a nested schema is,
// for the "must not be empty" message; "" means the root.
func structural(s *apiextensionsv1.JSONSchemaProps, p *field.Path, why string) field.ErrorList {
	var errs field.ErrorList
	typePath := p.Child("type")
	untyped := s.Type == "" && !s.XIntOrString && (s.XPreserveUnknownFields == nil || !*s.XPreserveUnknownFields)
	switch {
	case why == "" && s.Type == "":
		errs = append(errs, field.Required(typePath, "must not be empty at the root"))
	case why != "" && untyped:
		errs = append(errs, field.Required(typePath, "must not be empty for specified "+why))
	case s.Type != "" && !contains(schemaTypes, s.Type):
		errs = append(errs, field.NotSupported(typePath, s.Type, schemaTypes))
	}
	if why == "" && s.Type != "" && s.Type != "object" {
		errs = append(errs, field.Invalid(typePath, s.Type, "must be object at the root"))
	}
	for _, name := range sortedKeys(s.Properties) {
		prop := s.Properties[name]
		errs = append(errs, structural(&prop, p.Child("properties").Key(name), "object fields")...)
	}
	if s.Type == "array" {
		if s.Items == nil || s.Items.Schema == nil {
			errs = append(errs, field.Required(p.Child("items"), "must be specified"))
		} else {
			errs = append(errs, structural(s.Items.Schema, p.Child("items"), "array items")...)
		}
	}
	if ap := s.AdditionalProperties; ap != nil && ap.Schema != nil {
		errs = append(errs, structural(ap.Schema, p.Child("additionalProperties"), "object fields")...)
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// crdNames: plural and singular appear in URLs and kubectl commands, kind
// and listKind in apiVersion/kind of every object.
func crdNames(n *apiextensionsv1.CustomResourceDefinitionNames, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name, value string
		mixedCase   bool
	}{{"plural", n.Plural, false}, {"singular", n.Singular, false}, {"kind", n.Kind, true}, {"listKind", n.ListKind, true}} {
		if f.value == "" {
			errs = append(errs, field.Required(p.Child(f.name), ""))
			continue
		}
		check := f.value
		if f.mixedCase {
			check = strings.ToLower(f.value)
		}
		if msgs := utilvalidation.IsDNS1035Label(check); len(msgs) > 0 {
			detail := strings.Join(msgs, ",")
			if f.mixedCase {
				detail = "may have mixed case, but should otherwise match: " + detail
			}
			errs = append(errs, field.Invalid(p.Child(f.name), f.value, detail))
		}
	}
	if n.Kind != "" && n.Kind == n.ListKind {
		errs = append(errs, field.Invalid(p.Child("listKind"), n.ListKind, "kind and listKind may not be the same"))
	}
	for i, sn := range n.ShortNames {
		if msgs := utilvalidation.IsDNS1035Label(sn); len(msgs) > 0 {
			errs = append(errs, field.Invalid(p.Child("shortNames").Index(i), sn, strings.Join(msgs, ",")))
		}
	}
	for i, c := range n.Categories {
		if msgs := utilvalidation.IsDNS1035Label(c); len(msgs) > 0 {
			errs = append(errs, field.Invalid(p.Child("categories").Index(i), c, strings.Join(msgs, ",")))
		}
	}
	return errs
}

// storedVersions: every version objects may still be stored as in etcd must
// remain in spec.versions (or those objects could never be read again), and
// the storage version must be listed.
func storedVersions(crd *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	p := field.NewPath("status", "storedVersions")
	stored := crd.Status.StoredVersions
	if len(stored) == 0 {
		return field.ErrorList{field.Invalid(p, stored, "must have at least one stored version")}
	}
	var errs field.ErrorList
	index := map[string]int{}
	for i, v := range stored {
		index[v] = i
	}
	for _, v := range crd.Spec.Versions {
		if _, ok := index[v.Name]; v.Storage && !ok {
			errs = append(errs, field.Invalid(p, v.Name, "must have the storage version "+v.Name))
		}
		delete(index, v.Name)
	}
	for i, v := range stored {
		if _, missing := index[v]; missing {
			errs = append(errs, field.Invalid(p.Index(i), v, "must appear in spec.versions"))
		}
	}
	return errs
}

// customResourceDefinitionUpdate: the group and plural are the resource's
// URL, fixed for good; scope and kind are fixed once the resource is
// established (objects of it may exist).
func customResourceDefinitionUpdate(newCRD, oldCRD *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	errs := apimachineryvalidation.ValidateImmutableField(newCRD.Spec.Group, oldCRD.Spec.Group, specPath.Child("group"))
	errs = append(errs, apimachineryvalidation.ValidateImmutableField(newCRD.Spec.Names.Plural, oldCRD.Spec.Names.Plural, specPath.Child("names", "plural"))...)
	for _, c := range oldCRD.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			errs = append(errs, apimachineryvalidation.ValidateImmutableField(newCRD.Spec.Scope, oldCRD.Spec.Scope, specPath.Child("scope"))...)
			errs = append(errs, apimachineryvalidation.ValidateImmutableField(newCRD.Spec.Names.Kind, oldCRD.Spec.Names.Kind, specPath.Child("names", "kind"))...)
		}
	}
	return errs
}
