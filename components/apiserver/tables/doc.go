// Package tables is the kube-apiserver's table printer: the box that decides
// which columns `kubectl get` shows.
//
// kubectl does not know how to print a Pod or a Deployment. When it lists
// objects it sends
//
//	Accept: application/json;as=Table;v=v1;g=meta.k8s.io
//
// and the API server answers with a meta.k8s.io/v1 Table: a list of column
// definitions and one row of cells per object. kubectl prints the cells
// verbatim, hiding the columns whose priority is above 0 unless it runs with
// `-o wide`. So the server always fills every column, wide ones included,
// and the columns a student sees are decided here, not in kubectl.
//
// The data flow is:
//
//	REST list/get/watch handler
//	  -> For(gvk) or ForCustomResource(crd columns)   pick a Printer
//	  -> Build(printer, objects, includeObject, listMeta)
//	       Printer.Columns()   the header, once
//	       Printer.Cells(obj)  one row per object
//	       row.Object          the object's metadata (or all of it, or nothing)
//	  -> JSON-encoded Table back to kubectl
//
// The per-kind printers mirror what upstream Kubernetes registers in
// k8s.io/kubernetes/pkg/printers/internalversion (which is not importable):
// the same column names, types, priorities and cell formats, so that the
// real kubectl prints exactly what it prints against a real cluster. Kinds
// without a printer upstream (Role, ClusterRole, CustomResourceDefinition,
// ...) get the generic two-column table "Name, Created At", exactly like the
// upstream DefaultTableConvertor. Custom resources get the columns their
// CRD declares in additionalPrinterColumns.
//
// One oddity worth knowing when reading the code: upstream declares the Age
// column of built-in kinds with Type "string" (the cell is already a human
// duration such as "5m12s"), while the generic table and CRD tables use
// Type "date". We copy that faithfully.
package tables
