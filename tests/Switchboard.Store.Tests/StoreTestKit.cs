using System.Text;
using System.Threading.Channels;

namespace Switchboard.Store.Tests;

internal static class StoreTestKit
{
    /// <summary>Guards against hangs only; nothing asserts on time.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>An encoder that stamps the revision into the value, as the API layer will.</summary>
    public static ValueEncoder Json(string value) =>
        revision => Encoding.UTF8.GetBytes($$"""{"v":"{{value}}","rv":{{revision}}}""");

    public static string Text(ReadOnlyMemory<byte> value) => Encoding.UTF8.GetString(value.Span);

    public static string V(StoreObject? obj) => obj is null ? "<none>" : Text(obj.Value);

    public static async Task<List<StoreEvent>> TakeAsync(IStoreWatch watch, int count)
    {
        using var cts = new CancellationTokenSource(Patience);
        var events = new List<StoreEvent>(count);
        while (events.Count < count)
        {
            events.Add(await watch.Events.ReadAsync(cts.Token));
        }

        return events;
    }

    /// <summary>Reads until the watch ends; returns the events and the exception that ended it (null if it ended cleanly).</summary>
    public static async Task<(List<StoreEvent> Events, Exception? Error)> DrainAsync(ChannelReader<StoreEvent> reader)
    {
        using var cts = new CancellationTokenSource(Patience);
        var events = new List<StoreEvent>();
        try
        {
            await foreach (var evt in reader.ReadAllAsync(cts.Token))
            {
                events.Add(evt);
            }

            return (events, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return (events, ex);
        }
    }

    /// <summary>Nothing is waiting in the channel right now.</summary>
    public static bool IsEmpty(IStoreWatch watch) => !watch.Events.TryPeek(out _);
}
