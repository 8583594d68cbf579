// IndexedDB for Node (Dexie and y-indexeddb both use the global one).
import "fake-indexeddb/auto";
