package defaults

import (
	rbacv1 "k8s.io/api/rbac/v1"
)

// roleBinding mirrors SetDefaults_RoleBinding / SetDefaults_ClusterRoleBinding
// and SetDefaults_Subject (pkg/apis/rbac/v1/defaults.go): users and groups
// are RBAC concepts (apiGroup rbac.authorization.k8s.io), service accounts
// are core objects (apiGroup "").
func roleBinding(ref *rbacv1.RoleRef, subjects []rbacv1.Subject) {
	if ref.APIGroup == "" {
		ref.APIGroup = rbacv1.GroupName
	}
	for i := range subjects {
		s := &subjects[i]
		if s.APIGroup != "" {
			continue
		}
		switch s.Kind {
		case rbacv1.UserKind, rbacv1.GroupKind:
			s.APIGroup = rbacv1.GroupName
		case rbacv1.ServiceAccountKind:
			s.APIGroup = ""
		}
	}
}
