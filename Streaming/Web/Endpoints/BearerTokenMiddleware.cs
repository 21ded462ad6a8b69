using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace StreamLstm.Streaming.Web.Endpoints;

/// <summary>
/// Requires <c>Authorization: Bearer TOKEN</c> (or <c>?access_token=TOKEN</c>, which the browser's EventSource needs) on
/// every request except <c>/health/*</c> (probes), compared in constant time. Added only when a token is configured.
/// </summary>
/// <param name="next">Next middleware.</param>
/// <param name="token">The configured token.</param>
public sealed class BearerTokenMiddleware(RequestDelegate next, string token)
{
    private readonly byte[] _token = Encoding.UTF8.GetBytes(token);

    /// <summary>Checks the request.</summary>
    /// <param name="context">Request.</param>
    /// <returns>A task.</returns>
    public Task InvokeAsync(HttpContext context)
    {
        if (context.Request.Path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase) || Authorized(context.Request)) return next(context);
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return context.Response.WriteAsync("A bearer token is required: 'Authorization: Bearer TOKEN', or ?access_token=TOKEN in the page address.");
    }

    private bool Authorized(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : request.Query["access_token"].ToString();
        return presented.Length > 0 && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), _token);
    }
}
