using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Store.Mvcc;

namespace Switchboard.Store;

/// <summary>The MVCC core without persistence: for tests and throwaway servers. Starts at revision 1, empty.</summary>
public sealed class MemoryStore : MvccStore
{
    public MemoryStore(StoreOptions? options = null, TimeProvider? timeProvider = null, ILogger<MemoryStore>? logger = null)
        : base(Create(options ?? new StoreOptions(), timeProvider ?? TimeProvider.System, logger ?? NullLogger<MemoryStore>.Instance))
    {
    }

    private static RevisionedStore Create(StoreOptions options, TimeProvider time, ILogger log)
    {
        options.Validate();
        return new RevisionedStore(options, time, log, persistence: null, revision: 1, compactedRevision: 0, objects: []);
    }
}
