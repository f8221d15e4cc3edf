package tables

import (
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Roles and ClusterRoles have no printer upstream (they print as "Name,
// Created At"); the bindings do, because who is bound is the interesting
// part.

var roleBindingPrinter = typed[rbacv1.RoleBinding]{
	columns: bindingColumns(rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"], "roleBinding"),
	cells: func(b *rbacv1.RoleBinding) []interface{} {
		return bindingCells(b.Name, b.RoleRef, b.Subjects, b.CreationTimestamp)
	},
}

var clusterRoleBindingPrinter = typed[rbacv1.ClusterRoleBinding]{
	columns: bindingColumns(rbacv1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"], "clusterRoleBinding"),
	cells: func(b *rbacv1.ClusterRoleBinding) []interface{} {
		return bindingCells(b.Name, b.RoleRef, b.Subjects, b.CreationTimestamp)
	},
}

func bindingColumns(roleRefDoc, kind string) []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		column("Role", "string", roleRefDoc),
		ageColumn(),
		wide("Users", "string", "Users in the "+kind),
		wide("Groups", "string", "Groups in the "+kind),
		wide("ServiceAccounts", "string", "ServiceAccounts in the "+kind),
	}
}

// bindingCells prints the role as "ClusterRole/view" and the subjects split
// by kind; service accounts as "namespace/name".
func bindingCells(name string, ref rbacv1.RoleRef, subjects []rbacv1.Subject, created metav1.Time) []interface{} {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		}
	}
	return []interface{}{
		name,
		fmt.Sprintf("%s/%s", ref.Kind, ref.Name),
		since(created),
		strings.Join(users, ", "),
		strings.Join(groups, ", "),
		strings.Join(sas, ", "),
	}
}
