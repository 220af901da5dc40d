namespace Switchboard.Core;
