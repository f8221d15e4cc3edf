package crd

// A CRD version's openAPIV3Schema does three jobs for its custom resources,
// as in Kubernetes (the algorithms are apiextensions-apiserver's own):
//
//	prune     fields the schema does not declare are dropped (and reported:
//	          `kubectl apply` with strict validation fails on them)
//	default   `default:` values in the schema fill in missing fields
//	validate  types, enums, required, minimum/maximum, patterns ... -> 422
//
// A schema that says `x-kubernetes-preserve-unknown-fields: true` keeps
// unknown fields where it says so.

import (
	"fmt"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Schema applies one CRD version's schema to its custom resources.
type Schema struct {
	structural *structuralschema.Structural
	validator  validation.SchemaValidator
}

// NewSchema compiles a version's schema; nil in, nil out (no schema: the
// objects are taken as they come).
func NewSchema(v *apiextensionsv1.CustomResourceValidation) (*Schema, error) {
	if v == nil || v.OpenAPIV3Schema == nil {
		return nil, nil
	}
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.OpenAPIV3Schema, internal, nil); err != nil {
		return nil, fmt.Errorf("convert openAPIV3Schema: %w", err)
	}
	s, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, fmt.Errorf("openAPIV3Schema is not structural: %w", err)
	}
	validator, _, err := validation.NewSchemaValidator(internal)
	if err != nil {
		return nil, fmt.Errorf("openAPIV3Schema: %w", err)
	}
	return &Schema{structural: s, validator: validator}, nil
}

// Prune drops undeclared fields and returns their paths ("spec.foo").
func (s *Schema) Prune(obj runtime.Object) []string {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil
	}
	return pruning.PruneWithOptions(u.Object, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
}

// Default fills in the schema's default values.
func (s *Schema) Default(obj runtime.Object) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		defaulting.Default(u.Object, s.structural)
	}
}

// Validate checks the object against the schema.
func (s *Schema) Validate(obj runtime.Object) field.ErrorList {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil
	}
	return validation.ValidateCustomResource(nil, u.Object, s.validator)
}
