namespace Switchboard.Api.Patch;

/// <summary>
/// A patch kube-apiserver would refuse. Besides the detailed <see cref="Exception.Message"/> (for logs and tests) it
/// carries the Status upstream answers with, so the HTTP layer can copy it verbatim: <see cref="StatusCode"/>,
/// <see cref="Reason"/> and <see cref="StatusMessage"/>.
/// </summary>
/// <remarks>
/// Upstream (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go) answers: malformed bodies with 400
/// BadRequest and the decoder's text; more than 10000 JSON-patch operations with 413; a JSON patch that does not apply
/// with 422 Invalid and the generic "the server rejected our request due to an error in our request" (the cause is
/// dropped); strategic-merge format errors with 400, lists of lists with 422, and any other strategic-merge error with
/// a 500 whose reason is empty and whose message is the error text.
/// </remarks>
public sealed class PatchException : Exception
{
    /// <summary>Upstream's text for a 422 built by NewGenericServerResponse: the real cause is not sent.</summary>
    public const string GenericInvalidMessage = "the server rejected our request due to an error in our request";

    public PatchException()
        : this("the patch could not be applied")
    {
    }

    public PatchException(string message)
        : base(message)
    {
        StatusCode = 422;
        Reason = "Invalid";
        StatusMessage = GenericInvalidMessage;
    }

    public PatchException(string message, Exception innerException)
        : base(message, innerException)
    {
        StatusCode = 422;
        Reason = "Invalid";
        StatusMessage = GenericInvalidMessage;
    }

    private PatchException(int statusCode, string reason, string statusMessage, string message, Exception? innerException)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        Reason = reason;
        StatusMessage = statusMessage;
    }

    /// <summary>HTTP status upstream answers with: 400, 413, 422 or 500.</summary>
    public int StatusCode { get; }

    /// <summary>Status.reason: BadRequest, RequestEntityTooLarge, Invalid, or empty (upstream's StatusReasonUnknown).</summary>
    public string Reason { get; }

    /// <summary>Status.message exactly as upstream would write it.</summary>
    public string StatusMessage { get; }

    /// <summary>400: the body is not a patch of this type (upstream passes the decoder's text through).</summary>
    internal static PatchException BadRequest(string message, Exception? inner = null) =>
        new(400, "BadRequest", message, message, inner);

    /// <summary>422 with upstream's generic message; <paramref name="detail"/> stays in <see cref="Exception.Message"/>.</summary>
    internal static PatchException Invalid(string detail) =>
        new(422, "Invalid", GenericInvalidMessage, detail, null);

    /// <summary>413, as for a JSON patch with too many operations.</summary>
    internal static PatchException TooLarge(string message) =>
        new(413, "RequestEntityTooLarge", "Request entity too large: " + message, message, null);

    /// <summary>500 with an empty reason: upstream returns most strategic-merge errors unconverted.</summary>
    internal static PatchException Unknown(string message) =>
        new(500, "", message, message, null);
}
