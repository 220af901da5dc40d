using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Switchboard.Agnhost.Http;
using Switchboard.Agnhost.Json;

namespace Switchboard.Agnhost.Netexec;

/// <summary>/shell: run "/bin/sh -c cmd", answer {"output": stdout+stderr, "error": "exit status N"}.</summary>
internal sealed partial class NetexecHandler
{
    private async ValueTask ShellAsync(HttpRequest request, HttpResponse response)
    {
        var cmd = request.FormValue("shellCommand");
        if (cmd.Length == 0)
        {
            cmd = request.FormValue("cmd");
        }

        log.Printf("GET /shell?cmd=" + cmd);
        var (output, error) = await RunShellAsync(cmd).ConfigureAwait(false);
        var result = new ShellResult { Output = output.Length > 0 ? output : null, Error = error };
        log.Printf("Output: map[" + (error is null ? string.Empty : "error:" + error + " ") + (output.Length > 0 ? "output:" + output : string.Empty) + "]");
        response.Body = JsonSerializer.Serialize(result, AgnhostJsonContext.Relaxed.ShellResult);
    }

    /// <summary>
    /// Go's CombinedOutput shares one pipe for stdout and stderr; Process cannot, so both pipes are read at once
    /// and appended in arrival order.
    /// </summary>
    internal static async Task<(string Output, string? Error)> RunShellAsync(string cmd)
    {
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(cmd);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new Win32Exception("process did not start");
        }
        catch (Win32Exception e)
        {
            return (string.Empty, "fork/exec /bin/sh: " + e.Message);
        }

        using (process)
        {
            process.StandardInput.Close();
            var combined = new MemoryStream();
            await Task.WhenAll(
                PumpAsync(process.StandardOutput.BaseStream, combined),
                PumpAsync(process.StandardError.BaseStream, combined)).ConfigureAwait(false);
            await process.WaitForExitAsync().ConfigureAwait(false);
            var output = Encoding.UTF8.GetString(combined.GetBuffer(), 0, (int)combined.Length);
            var code = process.ExitCode;
            var error = code == 0 ? null : "exit status " + code.ToString(CultureInfo.InvariantCulture);
            return (output, error);
        }
    }

    private static async Task PumpAsync(Stream source, MemoryStream sink)
    {
        var buffer = new byte[4096];
        int n;
        while ((n = await source.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            lock (sink)
            {
                sink.Write(buffer, 0, n);
            }
        }
    }
}
