using System.Globalization;

namespace Switchboard.Api.Validation;

/// <summary>Upstream field.ErrorType: the cause reasons a 422 Status carries.</summary>
public enum FieldErrorType
{
    Invalid,
    Required,
    Duplicate,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal,
}

/// <summary>One field error, rendered exactly as k8s.io/apimachinery/pkg/util/validation/field does.</summary>
public sealed record FieldError(FieldErrorType Type, string Field, string? BadValue, string Detail, bool HasBadValue = true)
{
    public string Reason => Type switch
    {
        FieldErrorType.Invalid => "FieldValueInvalid",
        FieldErrorType.Required => "FieldValueRequired",
        FieldErrorType.Duplicate => "FieldValueDuplicate",
        FieldErrorType.NotSupported => "FieldValueNotSupported",
        FieldErrorType.Forbidden => "FieldValueForbidden",
        FieldErrorType.TooLong => "FieldValueTooLong",
        FieldErrorType.TooMany => "FieldValueTooMany",
        _ => "InternalError",
    };

    private string TypeText => Type switch
    {
        FieldErrorType.Invalid => "Invalid value",
        FieldErrorType.Required => "Required value",
        FieldErrorType.Duplicate => "Duplicate value",
        FieldErrorType.NotSupported => "Unsupported value",
        FieldErrorType.Forbidden => "Forbidden",
        FieldErrorType.TooLong => "Too long",
        FieldErrorType.TooMany => "Too many",
        _ => "Internal error",
    };

    /// <summary>The cause message: "Invalid value: \"x\": detail" (without the field).</summary>
    public string Message
    {
        get
        {
            // Upstream ErrorBody omits the value only for Required, Forbidden, TooLong and Internal.
            var showValue = HasBadValue && Type is not (FieldErrorType.Required or FieldErrorType.Forbidden or FieldErrorType.TooLong or FieldErrorType.Internal);
            if (!showValue)
            {
                return Detail.Length == 0 ? TypeText : TypeText + ": " + Detail;
            }
            var value = BadValue is null ? "null" : Quote(BadValue);
            return Detail.Length == 0 ? TypeText + ": " + value : TypeText + ": " + value + ": " + Detail;
        }
    }

    /// <summary>The full text: "field: Invalid value: ...".</summary>
    public override string ToString() => Field + ": " + Message;

    public static FieldError Invalid(string field, string? value, string detail) => new(FieldErrorType.Invalid, field, value, detail);
    public static FieldError InvalidNumber(string field, long value, string detail) => new(FieldErrorType.Invalid, field, value.ToString(CultureInfo.InvariantCulture), detail) { RawValue = true };
    public static FieldError Required(string field, string detail = "") => new(FieldErrorType.Required, field, null, detail, false);
    public static FieldError Forbidden(string field, string detail) => new(FieldErrorType.Forbidden, field, null, detail, false);
    public static FieldError Duplicate(string field, string? value) => new(FieldErrorType.Duplicate, field, value, "");
    public static FieldError TooLong(string field, int max) => new(FieldErrorType.TooLong, field, null, $"may not be more than {max} bytes", false);

    /// <summary>Upstream field.TooMany: "Too many: 1001: must have at most 1000 items".</summary>
    public static FieldError TooMany(string field, int actual, int max) =>
        new(FieldErrorType.TooMany, field, actual.ToString(CultureInfo.InvariantCulture), max == 1 ? "must have at most 1 item" : $"must have at most {max} items") { RawValue = true };

    public static FieldError Internal(string field, string detail) => new(FieldErrorType.Internal, field, null, detail, false);

    /// <summary>An Invalid error whose value is already rendered as Go's %#v would (numbers, slices, structs).</summary>
    public static FieldError InvalidRaw(string field, string rendered, string detail) => new(FieldErrorType.Invalid, field, rendered, detail) { RawValue = true };

    public static FieldError NotSupported(string field, string? value, IEnumerable<string> valid) =>
        new(FieldErrorType.NotSupported, field, value, "supported values: " + string.Join(", ", valid.Select(v => "\"" + v + "\"")));

    /// <summary>Numbers and booleans are printed bare, as Go's %#v does; strings are quoted.</summary>
    public bool RawValue { get; init; }

    private string Quote(string s) => RawValue ? s : GoText.Quote(s);
}
