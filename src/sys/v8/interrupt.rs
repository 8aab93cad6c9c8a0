//! Node environments and interrupts: running a task on a JS thread, asked from any thread.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::symbols::{
    symbols, GetCurrentFn, GET_CURRENT, GET_CURRENT_CONTEXT, GET_CURRENT_ENVIRONMENT,
    NODE_REQUEST_INTERRUPT,
};

type GetCurrentContextFn = unsafe extern "C" fn(isolate: *mut c_void) -> *mut c_void;
type GetCurrentEnvironmentFn = unsafe extern "C" fn(context: *mut c_void) -> *mut c_void;
type NodeRequestInterruptFn = unsafe extern "C" fn(
    env: *mut c_void,
    cb: unsafe extern "C" fn(*mut c_void),
    data: *mut c_void,
);

/// A `node::Environment*`, as an opaque address. Only [`request_interrupt`] uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvHandle(usize);

/// The Node environment of the calling JS thread. Call it inside an N-API call (a HandleScope
/// is open there).
pub fn current_environment() -> Option<EnvHandle> {
    let s = symbols();
    let get_current = s.get(&GET_CURRENT)?.addr;
    let ctx_fn = s.get(&GET_CURRENT_CONTEXT)?.addr;
    let env_fn = s.get(&GET_CURRENT_ENVIRONMENT)?.addr;
    // SAFETY: the addresses are Isolate::GetCurrent (static, no arguments),
    // Isolate::GetCurrentContext(this) -> Local<Context> (one pointer, returned in a register)
    // and node::GetCurrentEnvironment(Local<Context>) -> Environment* (the Local passed as one
    // pointer). We are on a JS thread inside an N-API call, so an isolate is entered and a
    // HandleScope is open for the Local.
    unsafe {
        let isolate = std::mem::transmute::<usize, GetCurrentFn>(get_current)();
        if isolate.is_null() {
            return None;
        }
        let context = std::mem::transmute::<usize, GetCurrentContextFn>(ctx_fn)(isolate);
        if context.is_null() {
            return None;
        }
        let env = std::mem::transmute::<usize, GetCurrentEnvironmentFn>(env_fn)(context);
        (!env.is_null()).then_some(EnvHandle(env as usize))
    }
}

type InterruptTask = Box<dyn FnOnce() + Send>;

// SAFETY: callers must pass as `data` a `Box<InterruptTask>` leaked by `request_interrupt`, and
// at most once: node::RequestInterrupt calls its callback once with the data it was given.
unsafe extern "C" fn interrupt_trampoline(data: *mut c_void) {
    // SAFETY: `data` is the Box leaked by request_interrupt for exactly this one call.
    let task = unsafe { Box::from_raw(data as *mut InterruptTask) };
    let _ = catch_unwind(AssertUnwindSafe(task));
}

/// Asks Node to run `task` on `env`'s JS thread as soon as possible: at the next V8 stack check
/// when JS is busy, or on a wake-up of the event loop when it is idle (`node::RequestInterrupt`).
/// `task` must not run JavaScript. Callable from any thread while `env` is alive: the caller
/// must guarantee that (see the environment cleanup hook in the binding layer).
pub fn request_interrupt(env: EnvHandle, task: InterruptTask) -> bool {
    let Some(f) = symbols().get(&NODE_REQUEST_INTERRUPT) else {
        return false;
    };
    let data = Box::into_raw(Box::new(task)) as *mut c_void;
    // SAFETY: node::RequestInterrupt(Environment*, void (*)(void*), void*) is thread-safe; `env`
    // is alive (caller's guarantee); the trampoline frees `data` when it runs. If Node never
    // runs it (the environment is torn down first) the box leaks, which is harmless.
    unsafe {
        std::mem::transmute::<usize, NodeRequestInterruptFn>(f.addr)(
            env.0 as *mut c_void,
            interrupt_trampoline,
            data,
        )
    };
    true
}
