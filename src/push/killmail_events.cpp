#include "push/killmail_events.hpp"

namespace kr::push {

NoKillmailEvents& NoKillmailEvents::Instance() {
    static NoKillmailEvents none;
    return none;
}

}  // namespace kr::push
