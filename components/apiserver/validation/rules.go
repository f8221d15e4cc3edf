package validation

import (
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// This file holds the small rules every kind uses, in the shapes upstream
// reports them.

// oneOf is the shape of most enum checks upstream: empty is "Required value",
// anything unknown is "Unsupported value" listing what would be accepted.
func oneOf(value string, p *field.Path, allowed ...string) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(p, value, allowed)}
}

func dns1123Label(value string, p *field.Path) field.ErrorList {
	return messages(value, p, utilvalidation.IsDNS1123Label(value))
}

func dns1123Subdomain(value string, p *field.Path) field.ErrorList {
	return messages(value, p, utilvalidation.IsDNS1123Subdomain(value))
}

func qualifiedName(value string, p *field.Path) field.ErrorList {
	return messages(value, p, utilvalidation.IsQualifiedName(value))
}

// messages turns the []string the util/validation checks return into
// Invalid errors at one path.
func messages(value any, p *field.Path, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(p, value, msg))
	}
	return errs
}

// nonNegative is upstream's ValidateNonnegativeField for any integer.
func nonNegative[T ~int32 | ~int64 | ~int](value T, p *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateNonnegativeField(int64(value), p)
}

// greaterThanZero is for counts that must be at least 1.
func greaterThanZero[T ~int32 | ~int64](value T, p *field.Path) field.ErrorList {
	if value <= 0 {
		return field.ErrorList{field.Invalid(p, value, "must be greater than 0")}
	}
	return nil
}
