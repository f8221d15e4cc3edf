package validation

import (
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// cronTab is the CustomResourceDefinition from the Kubernetes docs
// ("Extend the Kubernetes API with CustomResourceDefinitions").
func cronTab() *apiextensionsv1.CustomResourceDefinition {
	str := apiextensionsv1.JSONSchemaProps{Type: "string"}
	return defaulted(&apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "crontabs.stable.example.com", ResourceVersion: "1"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "stable.example.com",
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
							"cronSpec": str, "image": str, "replicas": {Type: "integer"},
						}},
					},
				}},
			}},
			Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Plural: "crontabs", Singular: "crontab", Kind: "CronTab", ShortNames: []string{"ct"},
			},
		},
	})
}

func TestCustomResourceDefinition(t *testing.T) {
	schema := func(crd *apiextensionsv1.CustomResourceDefinition) *apiextensionsv1.JSONSchemaProps {
		return crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	}
	tests := []struct {
		name   string
		mutate func(crd *apiextensionsv1.CustomResourceDefinition)
		want   []string
	}{
		{"docs example is valid", func(crd *apiextensionsv1.CustomResourceDefinition) {}, nil},
		{"name is not plural.group", func(crd *apiextensionsv1.CustomResourceDefinition) { crd.Name = "crontab.stable.example.com" },
			[]string{`metadata.name: Invalid value: "crontab.stable.example.com": must be spec.names.plural+"."+spec.group`}},
		{"group without a dot", func(crd *apiextensionsv1.CustomResourceDefinition) {
			crd.Spec.Group, crd.Name = "stable", "crontabs.stable"
		}, []string{`spec.group: Invalid value: "stable": should be a domain with at least one dot`}},
		{"unknown scope", func(crd *apiextensionsv1.CustomResourceDefinition) { crd.Spec.Scope = "Global" },
			[]string{`spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"`}},
		{"uppercase plural", func(crd *apiextensionsv1.CustomResourceDefinition) {
			crd.Spec.Names.Plural, crd.Name = "CronTabs", "CronTabs.stable.example.com"
		}, []string{`spec.names.plural: Invalid value: "CronTabs": a DNS-1035 label must consist of`,
			`metadata.name: Invalid value: "CronTabs.stable.example.com": a lowercase RFC 1123 subdomain`}},
		{"kind with a dash", func(crd *apiextensionsv1.CustomResourceDefinition) { crd.Spec.Names.Kind = "Cron-Tab_" },
			[]string{`spec.names.kind: Invalid value: "Cron-Tab_": may have mixed case, but should otherwise match: a DNS-1035 label`}},
		{"no storage version", func(crd *apiextensionsv1.CustomResourceDefinition) {
			crd.Spec.Versions[0].Storage = false
		}, []string{"spec.versions: Invalid value: "}},
		{"no versions", func(crd *apiextensionsv1.CustomResourceDefinition) { crd.Spec.Versions = nil },
			[]string{"spec.versions: Invalid value: null: must have exactly one version marked as storage version",
				`status.storedVersions[0]: Invalid value: "v1": must appear in spec.versions`}},
		{"nothing served", func(crd *apiextensionsv1.CustomResourceDefinition) { crd.Spec.Versions[0].Served = false },
			[]string{"spec.versions: Invalid value: "}},
		{"no schema", func(crd *apiextensionsv1.CustomResourceDefinition) { crd.Spec.Versions[0].Schema = nil },
			[]string{"spec.versions[0].schema: Required value: schemas are required"}},
		{"root is not an object", func(crd *apiextensionsv1.CustomResourceDefinition) { schema(crd).Type = "string" },
			[]string{`spec.versions[0].schema.openAPIV3Schema.type: Invalid value: "string": must be object at the root`}},
		{"untyped field", func(crd *apiextensionsv1.CustomResourceDefinition) {
			schema(crd).Properties["status"] = apiextensionsv1.JSONSchemaProps{}
		}, []string{"spec.versions[0].schema.openAPIV3Schema.properties[status].type: Required value: must not be empty for specified object fields"}},
		{"array without items", func(crd *apiextensionsv1.CustomResourceDefinition) {
			schema(crd).Properties["tags"] = apiextensionsv1.JSONSchemaProps{Type: "array"}
		}, []string{"spec.versions[0].schema.openAPIV3Schema.properties[tags].items: Required value: must be specified"}},
		{"preserve-unknown-fields field needs no type", func(crd *apiextensionsv1.CustomResourceDefinition) {
			yes := true
			schema(crd).Properties["extra"] = apiextensionsv1.JSONSchemaProps{XPreserveUnknownFields: &yes}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crd := cronTab()
			tt.mutate(crd)
			check(t, Create(crd), tt.want...)
		})
	}
	t.Run("new storage version is recorded on update", func(t *testing.T) {
		old := cronTab()
		crd := old.DeepCopy()
		v2 := *crd.Spec.Versions[0].DeepCopy()
		v2.Name = "v2"
		crd.Spec.Versions[0].Storage = false
		crd.Spec.Versions = append(crd.Spec.Versions, v2)
		check(t, Update(defaulted(crd), old))
	})
	t.Run("group is immutable", func(t *testing.T) {
		old := cronTab()
		crd := old.DeepCopy()
		crd.Spec.Group = "beta.example.com"
		check(t, Update(crd, old),
			`spec.group: Invalid value: "beta.example.com": field is immutable`,
			`metadata.name: Invalid value: "crontabs.stable.example.com": must be spec.names.plural+"."+spec.group`)
	})
}
