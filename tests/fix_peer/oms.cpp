// oms.cpp — a FIX 4.4 initiator ("OMS") built on QuickFIX C++, used as an
// independent peer for vigil's FIX acceptor tests. The Rust test drives it
// with one command per line on stdin and reads one event per line on stdout;
// the protocol is described in README.md next to this file.
//
// QuickFIX does the session layer (logon, heartbeats, sequence numbers,
// resends, validation against FIX44.xml); this program only turns commands
// into messages and messages into lines, so whatever vigil gets wrong at the
// session layer is judged by software the project did not write.

#include <quickfix/Application.h>
#include <quickfix/Exceptions.h>
#include <quickfix/FileLog.h>
#include <quickfix/FileStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>
#include <quickfix/fix44/NewOrderSingle.h>
#include <quickfix/fix44/OrderCancelReplaceRequest.h>
#include <quickfix/fix44/OrderCancelRequest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Output: one line per event, written whole and flushed at once, because the
// test reads line by line and QuickFIX calls back from its own thread while
// the main thread answers commands.
// ---------------------------------------------------------------------------

std::mutex g_outMutex;

void emit(const std::string& line)
{
  std::lock_guard<std::mutex> lock(g_outMutex);
  std::string whole = line + "\n";
  std::fwrite(whole.data(), 1, whole.size(), stdout);
  std::fflush(stdout);
}

void emitError(const std::string& text) { emit("ERROR " + text); }

// A field in the middle of a line must stay one token: blanks become '_'.
std::string token(const std::string& value)
{
  if (value.empty()) return "-";
  std::string out = value;
  for (char& c : out)
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x01') c = '_';
  return out;
}

// Free text goes last on a line and may hold blanks, but never a line break.
std::string text(const std::string& value)
{
  if (value.empty()) return "-";
  std::string out = value;
  for (char& c : out)
    if (c == '\n' || c == '\r' || c == '\x01') c = ' ';
  return out;
}

// ---------------------------------------------------------------------------
// Reading fields. Admin messages are only reported, never refused by us, so
// they use the lenient raw reader. Application messages use required<F>/
// optional<F>, which go through QuickFIX's typed fields: a missing or badly
// formatted field throws FieldNotFound / IncorrectDataFormat, exactly what a
// QuickFIX application would raise, and QuickFIX answers the counterparty.
// ---------------------------------------------------------------------------

std::string rawOr(const FIX::FieldMap& map, int tag, const std::string& absent = "-")
{
  return map.isSetField(tag) ? map.getField(tag) : absent;
}

template <class F>
std::string required(const FIX::FieldMap& map)
{
  F field;
  map.getField(field);     // throws FieldNotFound
  (void)field.getValue();  // throws IncorrectDataFormat
  return token(field.getString());
}

template <class F>
std::string optional(const FIX::FieldMap& map)
{
  F field;
  if (!map.getFieldIfSet(field)) return "-";
  (void)field.getValue();
  return token(field.getString());
}

std::string possDup(const FIX::Message& message)
{
  return rawOr(message.getHeader(), FIX::FIELD::PossDupFlag, "N") == "Y" ? "Y" : "N";
}

std::string seqNum(const FIX::Message& message)
{
  return rawOr(message.getHeader(), FIX::FIELD::MsgSeqNum);
}

std::string msgType(const FIX::Message& message)
{
  return rawOr(message.getHeader(), FIX::FIELD::MsgType);
}

// " <Text>" when 58 is present, nothing otherwise (for lines whose text is optional).
std::string trailingText(const FIX::FieldMap& map)
{
  return map.isSetField(FIX::FIELD::Text) ? " " + text(map.getField(FIX::FIELD::Text)) : "";
}

// ---------------------------------------------------------------------------
// Bench bookkeeping: which bench orders are outstanding and when each got its
// first ExecutionReport. Times are taken in the QuickFIX callback, so a round
// trip does not include waking the main thread.
// ---------------------------------------------------------------------------

class BenchTracker
{
public:
  void begin()
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_firstReport.clear();
    m_seen = 0;
    m_active = true;
  }

  void end()
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_active = false;
    m_firstReport.clear();
  }

  // Registered before sending, so a report that beats sendToTarget's return is not lost.
  void expect(const std::string& clOrdID)
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_firstReport[clOrdID] = Clock::time_point();
  }

  // True while a bench runs and the order is one of its own: such reports and
  // sends are counted, not printed, so the pipe to the test is not the bottleneck.
  bool owns(const std::string& clOrdID)
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_active && m_firstReport.count(clOrdID) != 0;
  }

  // Called for every ExecutionReport; returns whether the bench owns it.
  bool onExecutionReport(const std::string& clOrdID)
  {
    const Clock::time_point now = Clock::now();
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_active) return false;
    auto it = m_firstReport.find(clOrdID);
    if (it == m_firstReport.end()) return false;
    if (it->second == Clock::time_point()) {
      it->second = now;
      m_last = now;
      ++m_seen;
      m_changed.notify_all();
    }
    return true;
  }

  // Waits for the first report of one order; false on deadline.
  bool waitFor(const std::string& clOrdID, Clock::time_point deadline, Clock::time_point& at)
  {
    std::unique_lock<std::mutex> lock(m_mutex);
    const bool ok = m_changed.wait_until(lock, deadline, [&] {
      return m_firstReport[clOrdID] != Clock::time_point();
    });
    at = m_firstReport[clOrdID];
    return ok;
  }

  // Waits until `count` orders have had a first report; false on deadline.
  bool waitForCount(size_t count, Clock::time_point deadline, Clock::time_point& last, size_t& seen)
  {
    std::unique_lock<std::mutex> lock(m_mutex);
    const bool ok = m_changed.wait_until(lock, deadline, [&] { return m_seen >= count; });
    last = m_last;
    seen = m_seen;
    return ok;
  }

private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::unordered_map<std::string, Clock::time_point> m_firstReport;  // epoch = not yet
  Clock::time_point m_last;
  size_t m_seen = 0;
  bool m_active = false;
};

// ---------------------------------------------------------------------------
// The QuickFIX application: every callback becomes one stdout line.
// ---------------------------------------------------------------------------

// QuickFIX 1.15.1 declares its callbacks with dynamic exception specifications
// (`throw( FieldNotFound, ... )`), and an override may not be looser, so ours
// repeat them; C++11/14 call that deprecated (C++17 refuses it: build as C++14).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated"

class OmsApplication : public FIX::Application
{
public:
  explicit OmsApplication(BenchTracker& bench) : m_bench(bench) {}

  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID&) override { emit("LOGON"); }
  void onLogout(const FIX::SessionID&) override { emit("LOGOUT"); }

  void toAdmin(FIX::Message& message, const FIX::SessionID&) override
  {
    emit("ADMIN_OUT " + token(msgType(message)) + " " + token(seqNum(message)) + adminOutDetails(message));
  }

  void toApp(FIX::Message& message, const FIX::SessionID&) throw(FIX::DoNotSend) override
  {
    // Our own orders, their resends (PossDup Y) and business rejects QuickFIX
    // generates itself (35=j, e.g. for a FieldNotFound we rethrew) all pass here.
    const std::string clOrdID = rawOr(message, FIX::FIELD::ClOrdID);
    if (m_bench.owns(clOrdID)) return;
    std::string line = "APP_OUT " + token(msgType(message)) + " " + token(seqNum(message)) + " " +
                       possDup(message) + " " + token(clOrdID);
    if (msgType(message) == "j")
      line += " reason=" + token(rawOr(message, FIX::FIELD::BusinessRejectReason));
    emit(line + trailingText(message));
  }

  void fromAdmin(const FIX::Message& message, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override
  {
    const std::string type = msgType(message);
    std::string line = "ADMIN_IN " + token(type) + " " + token(seqNum(message)) + " " + possDup(message);
    if (type == "2")
      line += " begin=" + token(rawOr(message, FIX::FIELD::BeginSeqNo)) +
              " end=" + token(rawOr(message, FIX::FIELD::EndSeqNo));
    if (type == "4")
      line += " gapfill=" + token(rawOr(message, FIX::FIELD::GapFillFlag)) +
              " newseq=" + token(rawOr(message, FIX::FIELD::NewSeqNo));
    emit(line + trailingText(message));

    if (type == "3")
      emit("REJECT " + token(rawOr(message, FIX::FIELD::RefSeqNum)) + " " +
           token(rawOr(message, FIX::FIELD::SessionRejectReason)) + " " +
           token(rawOr(message, FIX::FIELD::RefTagID)) + " " +
           text(rawOr(message, FIX::FIELD::Text, "")));
  }

  // Anything QuickFIX (or our typed reads) refuses is printed as INVALID and
  // rethrown, so QuickFIX sends the 35=3 / 35=j it would send for any
  // application. Only the exception types this signature allows are rethrown.
  void fromApp(const FIX::Message& message, const FIX::SessionID&) throw(
      FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
      FIX::UnsupportedMessageType) override
  {
    try {
      report(message);
    } catch (const FIX::FieldNotFound& e) {
      invalid(message, e.field, e);
      throw;
    } catch (const FIX::IncorrectDataFormat& e) {
      invalid(message, e.field, e);
      throw;
    } catch (const FIX::IncorrectTagValue& e) {
      invalid(message, e.field, e);
      throw;
    } catch (const std::exception& e) {
      invalid(message, 0, e);  // not ours to rethrow: the signature forbids it
    }
  }

private:
  static std::string adminOutDetails(const FIX::Message& message)
  {
    const std::string type = msgType(message);
    if (type == "2")
      return " begin=" + token(rawOr(message, FIX::FIELD::BeginSeqNo)) +
             " end=" + token(rawOr(message, FIX::FIELD::EndSeqNo));
    if (type == "4")
      return " gapfill=" + token(rawOr(message, FIX::FIELD::GapFillFlag)) +
             " newseq=" + token(rawOr(message, FIX::FIELD::NewSeqNo));
    if (type == "3")
      // The reject QuickFIX sends when validation (data dictionary) fails.
      return " refseq=" + token(rawOr(message, FIX::FIELD::RefSeqNum)) +
             " reason=" + token(rawOr(message, FIX::FIELD::SessionRejectReason)) +
             " reftag=" + token(rawOr(message, FIX::FIELD::RefTagID)) +
             " refmsgtype=" + token(rawOr(message, FIX::FIELD::RefMsgType)) + trailingText(message);
    if (type == "5") return trailingText(message);
    return "";
  }

  void report(const FIX::Message& message)
  {
    const std::string type = msgType(message);
    if (type == "8") return reportExecution(message);
    if (type == "9") return reportCancelReject(message);
    if (type == "j") return reportBusinessReject(message);
    emit("APP_IN " + token(type) + " " + token(seqNum(message)) + " " + possDup(message));
  }

  void reportExecution(const FIX::Message& m)
  {
    // Read everything first: a bad field must throw before anything is printed.
    const std::string clOrdID = required<FIX::ClOrdID>(m);
    std::string line = "ER " + clOrdID + " " + optional<FIX::OrigClOrdID>(m) + " " +
                       required<FIX::OrderID>(m) + " " + required<FIX::ExecType>(m) + " " +
                       required<FIX::OrdStatus>(m) + " " + required<FIX::CumQty>(m) + " " +
                       required<FIX::LeavesQty>(m) + " " + required<FIX::AvgPx>(m) + " " +
                       optional<FIX::LastPx>(m) + " " + optional<FIX::LastQty>(m) + " " +
                       possDup(m) + " " + token(seqNum(m)) + " " + optional<FIX::OrdRejReason>(m) +
                       " " + text(rawOr(m, FIX::FIELD::Text, ""));
    if (m_bench.onExecutionReport(clOrdID)) return;
    emit(line);
  }

  static void reportCancelReject(const FIX::Message& m)
  {
    std::string line = "CXLREJ " + required<FIX::ClOrdID>(m) + " " + required<FIX::OrigClOrdID>(m) +
                       " " + required<FIX::OrderID>(m) + " " + required<FIX::CxlRejResponseTo>(m) +
                       " " + optional<FIX::CxlRejReason>(m) + " " + text(rawOr(m, FIX::FIELD::Text, ""));
    emit(line);
  }

  static void reportBusinessReject(const FIX::Message& m)
  {
    std::string line = "BMR " + required<FIX::RefMsgType>(m) + " " +
                       required<FIX::BusinessRejectReason>(m) + " " +
                       text(rawOr(m, FIX::FIELD::Text, ""));
    emit(line);
  }

  static void invalid(const FIX::Message& m, int tag, const std::exception& e)
  {
    emit("INVALID " + token(msgType(m)) + " " + token(seqNum(m)) + " " +
         (tag ? std::to_string(tag) : std::string("-")) + " " + text(e.what()));
  }

  BenchTracker& m_bench;
};
#pragma GCC diagnostic pop

// ---------------------------------------------------------------------------
// Command line and QuickFIX settings.
// ---------------------------------------------------------------------------

struct Options
{
  std::string host = "127.0.0.1";
  std::string port;
  std::string sender = "OMS1";
  std::string target = "VIGIL";
  std::string store;
  std::string dict;  // empty: no data dictionary validation
  int heartbeat = 30;
  int reconnect = 1;
};

[[noreturn]] void usage(const std::string& why)
{
  std::cerr << "oms: " << why << "\n"
            << "usage: oms --port P --store DIR [--host H] [--sender ID] [--target ID]\n"
            << "           [--dict FIX44.xml] [--heartbeat SECS] [--reconnect SECS]\n";
  std::exit(2);
}

bool parseInt(const std::string& s, long& out)
{
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtol(s.c_str(), &end, 10);
  return errno == 0 && *end == '\0';
}

bool parseNumber(const std::string& s, double& out)
{
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return errno == 0 && *end == '\0' && std::isfinite(out);  // strtod also takes nan and inf
}

Options parseOptions(int argc, char** argv)
{
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage("missing value for " + flag);
    const std::string value = argv[++i];
    long n = 0;
    if (flag == "--host") o.host = value;
    else if (flag == "--port") o.port = value;
    else if (flag == "--sender") o.sender = value;
    else if (flag == "--target") o.target = value;
    else if (flag == "--store") o.store = value;
    else if (flag == "--dict") o.dict = value;
    else if (flag == "--heartbeat" && parseInt(value, n) && n > 0) o.heartbeat = static_cast<int>(n);
    else if (flag == "--reconnect" && parseInt(value, n) && n > 0) o.reconnect = static_cast<int>(n);
    else usage("bad option " + flag + " " + value);
  }
  long port = 0;
  if (!parseInt(o.port, port) || port <= 0 || port > 65535) usage("--port must be 1..65535");
  if (o.store.empty()) usage("--store is required");
  if (!o.dict.empty() && !std::ifstream(o.dict).good()) usage("cannot read --dict " + o.dict);
  return o;
}

// mkdir -p: the store directory may not exist yet.
void makeDirs(const std::string& path)
{
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos == path.size() || path[pos] == '/') {
      const std::string prefix = path.substr(0, pos);
      if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
        usage("cannot create " + prefix + ": " + std::strerror(errno));
    }
  }
}

// The settings are written as a QuickFIX config file in the store directory,
// so a failing test leaves behind exactly what the session ran with.
std::string writeSettingsFile(const Options& o)
{
  makeDirs(o.store);
  const std::string path = o.store + "/oms.cfg";
  std::ofstream cfg(path);
  cfg << "[DEFAULT]\n"
      << "ConnectionType=initiator\n"
      << "HeartBtInt=" << o.heartbeat << "\n"
      << "ReconnectInterval=" << o.reconnect << "\n"
      << "FileStorePath=" << o.store << "/store\n"
      << "FileLogPath=" << o.store << "/log\n"
      // Equal start and end: the session is always in its time window.
      << "StartTime=00:00:00\n"
      << "EndTime=00:00:00\n"
      << "UseDataDictionary=" << (o.dict.empty() ? "N" : "Y") << "\n";
  if (!o.dict.empty()) cfg << "DataDictionary=" << o.dict << "\n";
  cfg << "ValidateUserDefinedFields=N\n"
      // Sequence numbers survive logout, disconnect and restart: that is what
      // the acceptor's resend and recovery handling is tested against.
      << "ResetOnLogon=N\n"
      << "ResetOnLogout=N\n"
      << "ResetOnDisconnect=N\n"
      << "PersistMessages=Y\n"
      << "CheckLatency=N\n"
      // No Nagle delay: the bench measures the acceptor, not TCP coalescing.
      << "SocketNodelay=Y\n"
      << "\n[SESSION]\n"
      << "BeginString=FIX.4.4\n"
      << "SenderCompID=" << o.sender << "\n"
      << "TargetCompID=" << o.target << "\n"
      << "SocketConnectHost=" << o.host << "\n"
      << "SocketConnectPort=" << o.port << "\n";
  if (!cfg) usage("cannot write " + path);
  return path;
}

// ---------------------------------------------------------------------------
// Building orders.
// ---------------------------------------------------------------------------

bool parseSide(const std::string& s, char& side)
{
  if (s == "buy") side = FIX::Side_BUY;
  else if (s == "sell") side = FIX::Side_SELL;
  else return false;
  return true;
}

// Price present: limit order; absent: market order.
char ordTypeFor(const std::string& price)
{
  return price.empty() ? FIX::OrdType_MARKET : FIX::OrdType_LIMIT;
}

FIX::Message newOrderSingle(const std::string& clOrdID, const std::string& symbol, char side,
                            double qty, long strategy, const std::string& params,
                            const std::string& price)
{
  FIX44::NewOrderSingle m{FIX::ClOrdID(clOrdID), FIX::Side(side), FIX::TransactTime(3),
                          FIX::OrdType(ordTypeFor(price))};
  m.setField(FIX::Symbol(symbol));
  m.setField(FIX::OrderQty(qty));
  m.setField(FIX::HandlInst('1'));
  if (!price.empty()) m.setField(FIX::Price(std::strtod(price.c_str(), nullptr)));
  m.setField(FIX::TargetStrategy(static_cast<int>(strategy)));
  if (params != "-") m.setField(FIX::TargetStrategyParameters(params));
  return m;
}

// ---------------------------------------------------------------------------
// The command loop: owns the initiator and answers one stdin line at a time.
// ---------------------------------------------------------------------------

class Oms
{
public:
  explicit Oms(const Options& o)
  : m_settings(writeSettingsFile(o)),
    m_sessionID(FIX::BeginString_FIX44, o.sender, o.target),
    m_app(m_bench),
    m_storeFactory(m_settings),
    m_logFactory(m_settings)
  {
  }

  ~Oms() { shutdown(); }

  // Returns false when the program should exit.
  bool handle(const std::vector<std::string>& args)
  {
    const std::string& cmd = args[0];
    if (cmd == "start") start(args);
    else if (cmd == "stop") stop(args);
    else if (cmd == "nos") nos(args);
    else if (cmd == "cancel") cancel(args);
    else if (cmd == "replace") replace(args);
    else if (cmd == "seqs") seqs(args);
    else if (cmd == "bench") bench(args);
    else if (cmd == "quit") return false;
    else emitError("unknown command " + cmd);
    return true;
  }

  void shutdown()
  {
    if (m_running) m_initiator->stop();
    m_running = false;
    m_initiator.reset();
  }

private:
  static bool arity(const std::vector<std::string>& args, size_t min, size_t max, const char* usage)
  {
    if (args.size() >= min && args.size() <= max) return true;
    emitError(std::string("usage: ") + usage);
    return false;
  }

  void start(const std::vector<std::string>& args)
  {
    if (!arity(args, 1, 1, "start")) return;
    if (m_running) return emitError("already started");
    // The stopped initiator still owns the Session (so `seqs` and `nos` work
    // between stop and start). It must go before the new one registers a
    // Session with the same ID, or its destructor would unregister the new one.
    m_initiator.reset();
    try {
      m_initiator.reset(new FIX::SocketInitiator(m_app, m_storeFactory, m_settings, m_logFactory));
      m_initiator->start();  // own thread: connects, logs on and reconnects by itself
      m_running = true;
    } catch (const std::exception& e) {
      m_initiator.reset();
      emitError(std::string("start failed: ") + text(e.what()));
    }
  }

  void stop(const std::vector<std::string>& args)
  {
    if (!arity(args, 1, 1, "stop")) return;
    if (!m_running) return emitError("not started");
    m_initiator->stop();  // sends Logout and waits for the answer (up to 10 s)
    m_running = false;
  }

  // sendToTarget stores and numbers the message even when not logged on;
  // it then goes out on the resend after the next logon, which tests rely on.
  void send(FIX::Message& message)
  {
    try {
      FIX::Session::sendToTarget(message, m_sessionID);
    } catch (const FIX::SessionNotFound&) {
      emitError("no session yet: send start first");
    } catch (const std::exception& e) {
      emitError(std::string("send failed: ") + text(e.what()));
    }
  }

  // nos CLORDID SYMBOL buy|sell QTY STRATEGY PARAMS [PRICE]
  void nos(const std::vector<std::string>& a)
  {
    if (!arity(a, 7, 8, "nos CLORDID SYMBOL buy|sell QTY STRATEGY PARAMS [PRICE]")) return;
    char side;
    double qty, price;
    long strategy;
    const std::string priceText = a.size() == 8 ? a[7] : "";
    if (!parseSide(a[3], side)) return emitError("side must be buy or sell: " + a[3]);
    if (!parseNumber(a[4], qty)) return emitError("bad quantity " + a[4]);
    if (!parseInt(a[5], strategy)) return emitError("bad strategy " + a[5]);
    if (!priceText.empty() && !parseNumber(priceText, price)) return emitError("bad price " + priceText);
    FIX::Message m = newOrderSingle(a[1], a[2], side, qty, strategy, a[6], priceText);
    send(m);
  }

  // cancel CLORDID ORIGCLORDID SYMBOL buy|sell QTY
  void cancel(const std::vector<std::string>& a)
  {
    if (!arity(a, 6, 6, "cancel CLORDID ORIGCLORDID SYMBOL buy|sell QTY")) return;
    char side;
    double qty;
    if (!parseSide(a[4], side)) return emitError("side must be buy or sell: " + a[4]);
    if (!parseNumber(a[5], qty)) return emitError("bad quantity " + a[5]);
    FIX44::OrderCancelRequest m{FIX::OrigClOrdID(a[2]), FIX::ClOrdID(a[1]), FIX::Side(side),
                                FIX::TransactTime(3)};
    m.setField(FIX::Symbol(a[3]));
    m.setField(FIX::OrderQty(qty));
    send(m);
  }

  // replace CLORDID ORIGCLORDID SYMBOL buy|sell QTY PARAMS [PRICE]
  void replace(const std::vector<std::string>& a)
  {
    if (!arity(a, 7, 8, "replace CLORDID ORIGCLORDID SYMBOL buy|sell QTY PARAMS [PRICE]")) return;
    char side;
    double qty, price = 0;
    const std::string priceText = a.size() == 8 ? a[7] : "";
    if (!parseSide(a[4], side)) return emitError("side must be buy or sell: " + a[4]);
    if (!parseNumber(a[5], qty)) return emitError("bad quantity " + a[5]);
    if (!priceText.empty() && !parseNumber(priceText, price)) return emitError("bad price " + priceText);
    FIX44::OrderCancelReplaceRequest m{FIX::OrigClOrdID(a[2]), FIX::ClOrdID(a[1]), FIX::Side(side),
                                       FIX::TransactTime(3), FIX::OrdType(ordTypeFor(priceText))};
    m.setField(FIX::Symbol(a[3]));
    m.setField(FIX::OrderQty(qty));
    m.setField(FIX::HandlInst('1'));
    if (!priceText.empty()) m.setField(FIX::Price(price));
    if (a[6] != "-") m.setField(FIX::TargetStrategyParameters(a[6]));
    send(m);
  }

  void seqs(const std::vector<std::string>& args)
  {
    if (!arity(args, 1, 1, "seqs")) return;
    FIX::Session* session = FIX::Session::lookupSession(m_sessionID);
    if (!session) return emitError("no session yet: send start first");
    emit("SEQ " + std::to_string(session->getExpectedSenderNum()) + " " +
         std::to_string(session->getExpectedTargetNum()));
  }

  // bench N SYMBOL: (a) N sequential round trips, (b) N back-to-back orders.
  void bench(const std::vector<std::string>& a)
  {
    if (!arity(a, 3, 3, "bench N SYMBOL")) return;
    long n = 0;
    if (!parseInt(a[1], n) || n <= 0) return emitError("bad count " + a[1]);
    FIX::Session* session = FIX::Session::lookupSession(m_sessionID);
    if (!session || !session->isLoggedOn()) return emitError("bench needs a logged-on session");

    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(60);
    m_bench.begin();
    if (benchLatency(static_cast<size_t>(n), a[2], deadline))
      benchThroughput(static_cast<size_t>(n), a[2], deadline);
    m_bench.end();
  }

  FIX::Message benchOrder(const std::string& clOrdID, const std::string& symbol)
  {
    return newOrderSingle(clOrdID, symbol, FIX::Side_BUY, 100, 1000, "-", "");
  }

  bool benchLatency(size_t n, const std::string& symbol, Clock::time_point deadline)
  {
    std::vector<long long> rtts;
    rtts.reserve(n);
    for (size_t k = 1; k <= n; ++k) {
      const std::string id = "B" + std::to_string(k);
      FIX::Message m = benchOrder(id, symbol);
      m_bench.expect(id);
      const Clock::time_point sent = Clock::now();
      send(m);
      Clock::time_point answered;
      if (!m_bench.waitFor(id, deadline, answered)) {
        emitError("bench timed out after " + std::to_string(k - 1) + " of " + std::to_string(n) +
                  " (latency phase)");
        return false;
      }
      rtts.push_back(std::chrono::duration_cast<std::chrono::microseconds>(answered - sent).count());
    }
    std::sort(rtts.begin(), rtts.end());
    emit("BENCH rtt_p50_us=" + std::to_string(percentile(rtts, 0.50)) +
         " rtt_p99_us=" + std::to_string(percentile(rtts, 0.99)) +
         " rtt_max_us=" + std::to_string(rtts.back()) + " n=" + std::to_string(n));
    return true;
  }

  void benchThroughput(size_t n, const std::string& symbol, Clock::time_point deadline)
  {
    std::vector<FIX::Message> orders;  // built up front: the timed loop only sends
    orders.reserve(n);
    for (size_t k = 1; k <= n; ++k) {
      const std::string id = "T" + std::to_string(k);
      orders.push_back(benchOrder(id, symbol));
      m_bench.expect(id);
    }
    const Clock::time_point begin = Clock::now();
    for (FIX::Message& m : orders) send(m);
    Clock::time_point last;
    size_t seen = 0;
    // The latency phase's orders were all answered, so only T orders are left to count.
    if (!m_bench.waitForCount(2 * n, deadline, last, seen)) {
      emitError("bench timed out after " + std::to_string(seen - n) + " of " + std::to_string(n) +
                " (throughput phase)");
      return;
    }
    const double secs = std::chrono::duration<double>(last - begin).count();
    char rate[64];
    std::snprintf(rate, sizeof rate, "%.1f", secs > 0 ? n / secs : 0.0);
    emit(std::string("BENCH sustained_orders_per_s=") + rate + " n=" + std::to_string(n));
  }

  // Nearest-rank percentile of sorted values.
  static long long percentile(const std::vector<long long>& sorted, double p)
  {
    size_t rank = static_cast<size_t>(p * sorted.size() + 0.999999);
    if (rank < 1) rank = 1;
    return sorted[std::min(rank, sorted.size()) - 1];
  }

  FIX::SessionSettings m_settings;
  FIX::SessionID m_sessionID;
  BenchTracker m_bench;
  OmsApplication m_app;
  FIX::FileStoreFactory m_storeFactory;
  FIX::FileLogFactory m_logFactory;
  std::unique_ptr<FIX::SocketInitiator> m_initiator;
  bool m_running = false;
};

std::vector<std::string> split(const std::string& line)
{
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

}  // namespace

int main(int argc, char** argv)
{
  // A vanished reader must not kill us mid-write; stdin EOF ends the program instead.
  std::signal(SIGPIPE, SIG_IGN);
  const Options options = parseOptions(argc, argv);

  std::unique_ptr<Oms> oms;
  try {
    oms.reset(new Oms(options));
  } catch (const std::exception& e) {
    emitError(std::string("settings: ") + text(e.what()));
    return 2;
  }
  emit("READY");

  for (std::string line; std::getline(std::cin, line);) {
    const std::vector<std::string> args = split(line);
    if (args.empty()) continue;
    try {
      if (!oms->handle(args)) break;
    } catch (const std::exception& e) {
      emitError(args[0] + " failed: " + text(e.what()));  // never die on a command
    }
  }
  oms->shutdown();
  return 0;
}
