// A small event emitter that runs the same in browsers and Node, in the
// spirit of Node's: on/once/off/emit. An 'error' with no listener is
// dropped rather than thrown, since it always comes from the network.

export class Emitter {
  #listeners = new Map();

  on(event, fn) {
    if (!this.#listeners.has(event)) this.#listeners.set(event, []);
    this.#listeners.get(event).push(fn);
    return this;
  }

  once(event, fn) {
    const wrapped = (...args) => {
      this.off(event, wrapped);
      fn(...args);
    };
    wrapped.listener = fn;
    return this.on(event, wrapped);
  }

  off(event, fn) {
    const list = this.#listeners.get(event);
    if (list) {
      const i = list.findIndex((l) => l === fn || l.listener === fn);
      if (i >= 0) list.splice(i, 1);
    }
    return this;
  }

  removeListener(event, fn) {
    return this.off(event, fn);
  }

  listenerCount(event) {
    return this.#listeners.get(event)?.length ?? 0;
  }

  emit(event, ...args) {
    const list = this.#listeners.get(event);
    if (!list || list.length === 0) return false;
    for (const fn of [...list]) {
      try {
        fn(...args);
      } catch (e) {
        // A listener's fault must not break the library's own state.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
    return true;
  }
}
